import BlendedLatent
import Foundation
import Networks
import TensorCore

/// Describes a diffusers Stable Diffusion folder without loading its weights: configurations, the
/// safetensors headers (parameter counts and dtypes) and the scheduler's prediction type.
struct ModelDirectoryInspector: ModelInspecting {
  func inspect(directory url: URL) throws -> ModelInspection {
    let directory = ModelDirectory(root: url)
    let index = try ModelIndex.decode(contentsOf: directory.modelIndex)
    let text = try CLIPTextConfiguration.decode(contentsOf: directory.textEncoderConfiguration)
    let unet = try UNetConfiguration.decode(contentsOf: directory.unetConfiguration)
    let vae = try AutoencoderKLConfiguration.decode(contentsOf: directory.vaeConfiguration)
    let scheduler = try SchedulerConfiguration.decode(contentsOf: directory.schedulerConfiguration)
    var notes: [String] = []
    let family: String
    switch text.hiddenSize {
    case 768: family = "Stable Diffusion 1.x"
    case 1024: family = "Stable Diffusion 2.x"
    default:
      family = "Stable Diffusion-like (text width \(text.hiddenSize))"
      notes.append("text encoder width \(text.hiddenSize) matches neither SD 1.x (768) nor SD 2.x (1024)")
    }
    let weights: [(String, () throws -> WeightFiles)] = [
      ("text_encoder", directory.textEncoderWeights), ("unet", directory.unetWeights), ("vae", directory.vaeWeights),
    ]
    var components: [ModelInspection.Component] = []
    for (name, files) in weights {
      let weightFiles = try files()
      var count = 0
      var dtypes: [String: Int] = [:]
      for file in weightFiles.urls {
        let safetensors = try SafetensorsFile(contentsOf: file)
        for entry in safetensors.entries.values {
          count += entry.shape.reduce(1, *)
          dtypes[entry.dtype.rawValue, default: 0] += 1
        }
      }
      components.append(
        ModelInspection.Component(
          name: name, className: index.components[name]?.className, parameterCount: count, dtypes: dtypes,
          files: weightFiles.urls.map { $0.path.replacingOccurrences(of: url.path + "/", with: "") }))
    }
    for name in ["tokenizer", "scheduler"] {
      components.append(ModelInspection.Component(name: name, className: index.components[name]?.className))
    }
    let latentSize = unet.sampleSize ?? 64
    return ModelInspection(
      directory: url.path, family: family, predictionType: scheduler.predictionType ?? "epsilon",
      nativeResolution: latentSize * vae.downsamplingFactor, components: components, notes: notes)
  }
}
