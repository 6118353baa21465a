import BlendedLatent
import Foundation
import Networks
import TensorCore

/// Model-level cases on a diffusers folder given with `--model DIR` (full-size SD 1.5 / 2.1 shapes, or SDXL:
/// `text-encoder-xl` (both encoders), `unet-xl-b2-128` (with the pooled embeddings and size ids),
/// `vae-decode-1024`, `edit-1024`).
///
/// Each case loads only the component it times, with the residency of `--weights` (so `peak_rss_mb` is that
/// component's activations, plus its weights in the file's dtype with `--weights memory`), runs one warm-up
/// call and `--repeat` timed calls. `edit-512` loads the whole model and runs,
/// without a warm-up,
/// one 512×512 edit (50 steps, strength 0.75: 37 UNet calls at batch 2) per timed run, reporting the phase
/// breakdown of the last run from `EditResult.timings`.
enum ModelCases {
  /// Model cases, or none without `--model`.
  static func all(context: BenchmarkContext) -> [BenchmarkCase] {
    guard let root = context.modelDirectory else { return [] }
    let directory = ModelDirectory(root: URL(fileURLWithPath: root))
    let residency = context.residency
    if (try? ModelIndex.decode(contentsOf: directory.modelIndex))?.isStableDiffusionXL == true {
      return [
        textEncoderXLCase(directory, residency), unetCase(directory, residency, latentSize: 128),
        vaeDecodeCase(directory, residency, imageSize: 1024), editCase(directory, residency, imageSize: 1024),
      ]
    }
    var cases: [BenchmarkCase] = [textEncoderCase(directory, residency)]
    for size in [32, 64] { cases.append(unetCase(directory, residency, latentSize: size)) }
    for size in [256, 512] { cases.append(vaeEncodeCase(directory, residency, imageSize: size)) }
    for size in [256, 512] { cases.append(vaeDecodeCase(directory, residency, imageSize: size)) }
    cases.append(editCase(directory, residency, imageSize: 512))
    return cases
  }

  static func textEncoderCase(_ directory: ModelDirectory, _ residency: WeightResidency) -> BenchmarkCase {
    BenchmarkCase(name: "text-encoder", flops: nil, isGEMMBacked: false) {
      let model = try CLIPTextModel(
        configuration: CLIPTextConfiguration.decode(contentsOf: directory.textEncoderConfiguration))
      _ = try WeightLoader.load(
        directory.textEncoderWeights(), into: model, renaming: .clipTextModel, residency: residency)
      let vocabulary = model.configuration.vocabSize
      let ids = (0..<2).map { row in (0..<77).map { (row * 7919 + $0 * 104_729) % vocabulary } }
      return { _ = model(ids) }
    }
  }

  /// SDXL's two text encoders on two prompts of 77 tokens (penultimate states and the projected pooled output).
  static func textEncoderXLCase(_ directory: ModelDirectory, _ residency: WeightResidency) -> BenchmarkCase {
    BenchmarkCase(name: "text-encoder-xl", flops: nil, isGEMMBacked: false) {
      let first = try CLIPTextModel(
        configuration: CLIPTextConfiguration.decode(contentsOf: directory.textEncoderConfiguration))
      _ = try WeightLoader.load(
        directory.textEncoderWeights(), into: first, renaming: .clipTextModel, residency: residency)
      let second = try CLIPTextModelWithProjection(
        configuration: CLIPTextConfiguration.decode(contentsOf: directory.secondTextEncoderConfiguration))
      _ = try WeightLoader.load(directory.secondTextEncoderWeights(), into: second, residency: residency)
      let vocabulary = first.configuration.vocabSize
      let ids = (0..<2).map { row in (0..<77).map { (row * 7919 + $0 * 104_729) % vocabulary } }
      return {
        _ = first.encode(ids)
        _ = second.encode(ids)
      }
    }
  }

  /// `unet-b2-N`, or `unet-xl-b2-N` for an SDXL UNet (with pooled embeddings and 1024-pixel size ids).
  static func unetCase(_ directory: ModelDirectory, _ residency: WeightResidency, latentSize: Int) -> BenchmarkCase {
    let isXL = (try? ModelIndex.decode(contentsOf: directory.modelIndex))?.isStableDiffusionXL == true
    return BenchmarkCase(
      name: "unet-\(isXL ? "xl-" : "")b2-\(latentSize)", flops: nil, isGEMMBacked: false,
      extraFields: ["batch": .integer(2), "latent_size": .integer(latentSize)]
    ) {
      let unet = try UNet2DConditionModel(
        configuration: UNetConfiguration.decode(contentsOf: directory.unetConfiguration))
      _ = try WeightLoader.load(directory.unetWeights(), into: unet, residency: residency)
      let configuration = unet.configuration
      let context = configuration.crossAttentionDim[0]
      let sample = benchmarkTensor([2, configuration.inChannels, latentSize, latentSize], seed: 3)
      let states = benchmarkTensor([2, 77, context], seed: 4)
      let added = configuration.pooledTextWidth.map { width in
        AddedConditions(
          textEmbeddings: benchmarkTensor([2, width], seed: 5),
          timeIDs: Tensor(
            shape: [2, 6], scalars: Array(repeating: [1024, 1024, 0, 0, 1024, 1024], count: 2).flatMap { $0 }))
      }
      return { _ = unet(sample, timestep: 500, encoderHiddenStates: states, addedConditions: added) }
    }
  }

  static func loadVAE(_ directory: ModelDirectory, _ residency: WeightResidency) throws -> AutoencoderKL {
    let vae = try AutoencoderKL(
      configuration: AutoencoderKLConfiguration.decode(contentsOf: directory.vaeConfiguration))
    _ = try WeightLoader.load(directory.vaeWeights(), into: vae, renaming: .autoencoderKL, residency: residency)
    return vae
  }

  static func vaeEncodeCase(_ directory: ModelDirectory, _ residency: WeightResidency, imageSize: Int) -> BenchmarkCase
  {
    BenchmarkCase(name: "vae-encode-\(imageSize)", flops: nil, isGEMMBacked: false) {
      let vae = try loadVAE(directory, residency)
      let image = benchmarkTensor([1, vae.configuration.inChannels, imageSize, imageSize], seed: 5)
      return { _ = vae.encode(image) }
    }
  }

  static func vaeDecodeCase(_ directory: ModelDirectory, _ residency: WeightResidency, imageSize: Int) -> BenchmarkCase
  {
    BenchmarkCase(name: "vae-decode-\(imageSize)", flops: nil, isGEMMBacked: false) {
      let vae = try loadVAE(directory, residency)
      let factor = vae.downsamplingFactor
      let latents = benchmarkTensor(
        [1, vae.configuration.latentChannels ?? 4, imageSize / factor, imageSize / factor], seed: 6)
      return { _ = vae.decode(latents) }
    }
  }

  /// A whole edit; the phase breakdown of the last run is printed as extra fields through `EditPhases`.
  static func editCase(_ directory: ModelDirectory, _ residency: WeightResidency, imageSize: Int) -> BenchmarkCase {
    BenchmarkCase(
      name: "edit-\(imageSize)", flops: nil, isGEMMBacked: false,
      extraFields: ["steps": .integer(50), "strength": .number(0.75), "batch": .integer(1)],
      warmUp: false, dynamicFields: { EditPhases.shared.fields },
      prepare: {
        let model = try StableDiffusionModel(directory: directory, residency: residency)
        let editor = try BlendedLatentEditor(model: model)
        let image = Tensor(shape: [3, imageSize, imageSize]) { buffer in
          for index in 0..<buffer.count { buffer[index] = Float((index * 37) % 255) / 255 }
        }
        let mask = Tensor(shape: [imageSize, imageSize]) { buffer in
          for row in 0..<imageSize {
            for column in 0..<imageSize {
              let inside =
                row >= imageSize / 4 && row < 3 * imageSize / 4 && column >= imageSize / 4 && column < 3 * imageSize / 4
              buffer[row * imageSize + column] = inside ? 1 : 0
            }
          }
        }
        let request = EditRequest(image: image, mask: mask, prompt: "a red hat", seed: 0)
        return {
          do {
            let result = try editor.edit(request)
            EditPhases.shared.record(result.timings, steps: result.denoisingStepCount)
          } catch {
            FileHandle.standardError.write(Data("edit failed: \(error)\n".utf8))
            exit(1)
          }
        }
      })
  }
}

/// The phase timings of the last edit run (the timed closure cannot return them).
final class EditPhases: @unchecked Sendable {
  static let shared = EditPhases()
  private(set) var fields: [String: JSONValue] = [:]

  func record(_ timings: EditTimings, steps: Int) {
    let seconds = timings.secondsByPhase
    fields = ["denoising_steps": .integer(steps), "unet_calls": .integer(steps)]
    for phase in ["text_encoding", "image_encoding", "denoising", "decoding", "preparation", "total"] {
      fields["phase_\(phase)_s"] = .number(seconds[phase] ?? 0)
    }
  }
}
