import BlendedLatent
import Foundation
import Networks
import TensorCore

/// Decoder fine-tuning cases (background reconstruction, paper §4.2): `finetune-SIZE-paper` and `finetune-SIZE-fast`
/// at 256 and 512 on a full-size Stable Diffusion VAE decoder with random weights
/// (`AutoencoderKL(configuration: .stableDiffusion)`, decoder `initializeParametersRandomly(seed: 1)`), so no
/// checkpoint is needed.
///
/// Each timed run is one `DecoderFineTuner.reconstruct` call of two iterations, or of `--iterations N` (75 times
/// the paper's whole reconstruction: then `median_s` is the measured time per image); no warm-up, as a run takes
/// seconds to minutes. Inputs: batch 1, a random latent, the mask a centred square of a quarter of the image,
/// `x̂ = D(z)` and `x = D(z)` plus a smooth colour drift and fine noise. Extra fields from the last run:
/// `iteration_s` (the last iteration: forward + backward + Adam step, as in a long run where the allocator reuses
/// the first iteration's memory), `first_iteration_s`, `setup_s` (the fast mode's one-time frozen prefix and
/// whole-image statistics), `final_s` (the decode with the tuned weights), `per_image_75_s` (setup + first +
/// 74 × the mean of the later iterations + final: with two iterations, the estimate from the second), the planned
/// `stored_activation_mb`, `recomputed_blocks`, the loss before the first iteration and after the last; with more
/// than two iterations also `later_iterations_mean_s`, `later_iterations_min_s` and `later_iterations_max_s` (all
/// but the first).
enum FineTuneCases {
  /// Iterations per timed call unless `--iterations` says otherwise.
  static let defaultIterationCount = 2

  /// The four cases, 256 before 512, paper before fast.
  static func all(context: BenchmarkContext) -> [BenchmarkCase] {
    [256, 512].flatMap { size in
      [false, true].map { fast in fineTune(size: size, fast: fast, iterations: context.fineTuneIterations) }
    }
  }

  static func fineTune(size: Int, fast: Bool, iterations: Int) -> BenchmarkCase {
    let record = FineTuneRecord()
    return BenchmarkCase(
      name: "finetune-\(size)-\(fast ? "fast" : "paper")", flops: nil, isGEMMBacked: false,
      extraFields: [
        "image_size": .integer(size), "iterations": .integer(iterations), "mode": .string(fast ? "fast" : "paper"),
      ],
      warmUp: false, dynamicFields: { record.fields }, runsOnlyWhenNamed: true,
      prepare: {
        let autoencoder = try AutoencoderKL(configuration: .stableDiffusion)
        autoencoder.decoder.initializeParametersRandomly(seed: 1)
        let tuner = try DecoderFineTuner(autoencoder: autoencoder)
        let (latentSize, outChannels) = (size / autoencoder.downsamplingFactor, autoencoder.configuration.outChannels)
        let latent = benchmarkTensor([1, autoencoder.latentChannels, latentSize, latentSize], seed: 7)
        let edited = try tuner.decoded(latent)
        let noise = benchmarkTensor([1, outChannels, size, size], seed: 8)
        let original = Tensor(shape: edited.shape) { buffer in
          edited.withUnsafeBufferPointer { x in
            noise.withUnsafeBufferPointer { n in
              for c in 0..<outChannels {
                for i in 0..<size {
                  for j in 0..<size {
                    let index = (c * size + i) * size + j
                    let drift = 0.05 * sin(Float(i) * 0.05 + Float(c)) * cos(Float(j) * 0.04)
                    buffer[index] = x[index] + drift + 0.02 * n[index]
                  }
                }
              }
            }
          }
        }
        let mask = Tensor(shape: [1, 1, size, size]) { buffer in
          for i in 0..<size {
            for j in 0..<size {
              buffer[i * size + j] =
                (size / 4..<3 * size / 4).contains(i) && (size / 4..<3 * size / 4).contains(j) ? 1 : 0
            }
          }
        }
        var options: DecoderFineTuningOptions = fast ? .fast : .paper
        options.iterationCount = iterations
        return {
          do {
            record.store(
              try tuner.reconstruct(
                decoderInput: latent, editedImage: edited, originalImage: original, mask: mask, options: options))
          } catch {
            FileHandle.standardError.write(Data("fine-tune failed: \(error)\n".utf8))
            exit(1)
          }
        }
      })
  }
}

/// The costs of the last fine-tune run of a case (the timed closure cannot return them).
final class FineTuneRecord: @unchecked Sendable {
  private(set) var fields: [String: JSONValue] = [:]

  func store(_ result: DecoderFineTuningResult) {
    let costs = result.costs
    let seconds = costs.iterations.map { $0 / .seconds(1) }
    let later = seconds.dropFirst()
    let laterMean = later.isEmpty ? 0 : later.reduce(0, +) / Double(later.count)
    fields = [
      "iteration_s": .number(seconds.last ?? 0),
      "first_iteration_s": .number(seconds.first ?? 0),
      "per_image_75_s": .number(
        costs.setup / .seconds(1) + (seconds.first ?? 0) + 74 * laterMean + costs.final / .seconds(1)),
      "setup_s": .number(costs.setup / .seconds(1)),
      "final_s": .number(costs.final / .seconds(1)),
      "stored_activation_mb": .number(Double(costs.storedActivationBytes) / 1_048_576),
      "recomputed_blocks": .integer(costs.recomputedBlockCount),
      "loss": .number(Double(result.losses.first ?? 0)),
      "final_loss": .number(result.finalLoss),
    ]
    if later.count > 1 {
      fields["later_iterations_mean_s"] = .number(laterMean)
      fields["later_iterations_min_s"] = .number(later.min()!)
      fields["later_iterations_max_s"] = .number(later.max()!)
    }
  }
}
