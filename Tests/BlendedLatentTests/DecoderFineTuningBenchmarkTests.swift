import BlendedLatent
import Foundation
import Testing
import TensorCore

/// Opt-in timing of the fine-tune with random full-size Stable Diffusion VAE decoder weights.
///
/// Enabled by `BLD_DECODER_BENCH=SIZE:ITERATIONS:MODE[:MARGIN[:UPBLOCKS]]`, e.g.
/// `BLD_DECODER_BENCH=256:2:full swift test -c release --filter DecoderFineTuningBenchmark`. MODE is `full` or
/// `crop` (crop margin MARGIN latent pixels, default 8); UPBLOCKS trains only the last up blocks. The mask is a
/// centred square of a quarter of the image; the edit is `D(z)` and the original `D(z)` plus a drift. Prints one JSON line with seconds per iteration, losses and the
/// process CPU seconds per iteration and the peak resident set (VmHWM, which includes the test runner).
@Suite("Decoder fine-tuning benchmark")
struct DecoderFineTuningBenchmarkTests {
  static let setting = ProcessInfo.processInfo.environment["BLD_DECODER_BENCH"]

  @Test(.enabled(if: setting != nil))
  func fullSizeDecoder() throws {
    let fields = Self.setting!.split(separator: ":").map(String.init)
    let size = Int(fields[0]) ?? 256
    let iterations = fields.count > 1 ? Int(fields[1]) ?? 2 : 2
    let mode = fields.count > 2 ? fields[2] : "full"
    let margin = fields.count > 3 ? Int(fields[3]) ?? 8 : 8
    let upBlocks = fields.count > 4 ? Int(fields[4]) : nil
    let architecture = VAEDecoderArchitecture.stableDiffusion
    let tuner = try DecoderFineTuner(
      architecture: architecture, weights: DifferentiableVAEDecoder.randomWeights(for: architecture, seed: 1))
    let latentSize = size / architecture.upscaleFactor
    var state: UInt64 = 42
    func random() -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(state >> 40) / Float(1 << 24) * 2 - 1
    }
    let latent = Tensor(shape: [1, 4, latentSize, latentSize], scalars: (0..<(4 * latentSize * latentSize)).map { _ in random() })
    // The edit is the decoded latent itself, x̂ = D(z); the original differs from it by a smooth colour drift plus
    // fine noise, standing in for the VAE's reconstruction error that the fine-tune removes.
    let edited = try tuner.decoder.decoded(latent)
    var drift = Tensor(shape: [1, 3, size, size], repeating: 0)
    for c in 0..<3 {
      for i in 0..<size {
        for j in 0..<size {
          let smooth = 0.05 * sin(Float(i) * 0.05 + Float(c)) * cos(Float(j) * 0.04)
          drift[0, c, i, j] = smooth + 0.02 * random()
        }
      }
    }
    let original = edited + drift
    var mask = Tensor(shape: [1, 1, size, size], repeating: 0)
    for row in (size / 4)..<(3 * size / 4) { for column in (size / 4)..<(3 * size / 4) { mask[0, 0, row, column] = 1 } }
    let options = DecoderFineTuningOptions(
      iterationCount: iterations, cropMargin: mode == "crop" ? margin : nil, trainedUpBlockCount: upBlocks)
    var stamps = [Date()]
    var cpuStamps = [Self.processCPUSeconds()]
    let start = Date()
    let result = try tuner.reconstruct(decoderInput: latent, editedImage: edited, originalImage: original, mask: mask,
                                       options: options) { _ in
      stamps.append(Date())
      cpuStamps.append(Self.processCPUSeconds())
      return .proceed
    }
    let total = Date().timeIntervalSince(start)
    let perIteration = zip(stamps.dropFirst(), stamps).map { $0.timeIntervalSince($1) }
    let cpuPerIteration = zip(cpuStamps.dropFirst(), cpuStamps).map { $0 - $1 }
    print(
      "{\"bench\": \"vae-finetune-\(size)\", \"mode\": \"\(mode)\", \"margin\": \(margin), \"up_blocks\": \(upBlocks.map(String.init) ?? "null"), "
        + "\"threads\": \(ComputeOptions.threadCount), \"iterations\": \(iterations), \"seconds_per_iteration\": \(perIteration), "
        + "\"cpu_seconds_per_iteration\": \(cpuPerIteration), "
        + "\"total_seconds\": \(total), \"losses\": \(result.losses), \"final_loss\": \(result.finalLoss), "
        + "\"region\": \"\(result.region.rows)x\(result.region.columns)\", \"peak_rss_mib\": \(Self.peakResidentMiB())}")
    #expect(result.image.isFinite)
  }

  /// User + system CPU seconds of this process so far (robust to other processes sharing the cores).
  static func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
      + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
  }

  /// VmHWM of this process in MiB, from /proc/self/status (0 where unavailable).
  static func peakResidentMiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
  }
}
