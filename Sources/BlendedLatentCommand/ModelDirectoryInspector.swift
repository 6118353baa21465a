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
    // SD 1.x: CLIP ViT-L/14 text tower (quick_gelu, width 768); SD 2.x: OpenCLIP ViT-H/14 (gelu, width 1024);
    // SDXL: both CLIP ViT-L/14 and OpenCLIP ViT-bigG/14 (text_encoder_2), context width 768 + 1280.
    let (family, expectedWidth) =
      index.isStableDiffusionXL
      ? ("Stable Diffusion XL", 768)
      : text.hiddenAct == "quick_gelu" ? ("Stable Diffusion 1.x", 768) : ("Stable Diffusion 2.x", 1024)
    if text.hiddenSize != expectedWidth {
      notes.append("text encoder width \(text.hiddenSize), not \(family)'s \(expectedWidth): a reduced or custom model")
    }
    var weights: [(String, () throws -> WeightFiles)] = [
      ("text_encoder", directory.textEncoderWeights), ("unet", directory.unetWeights), ("vae", directory.vaeWeights),
    ]
    if index.isStableDiffusionXL { weights.insert(("text_encoder_2", directory.secondTextEncoderWeights), at: 1) }
    var components: [ModelInspection.Component] = []
    for (name, files) in weights {
      let weightFiles = try files()
      var count = 0
      var dtypes: [String: Int] = [:]
      for file in weightFiles.urls {
        let safetensors = try SafetensorsFile(contentsOf: file)
        for entry in safetensors.entries.values {
          dtypes[entry.dtype.rawValue, default: 0] += 1
          // Integer tensors are buffers (CLIP's position_ids), not parameters.
          if [.float32, .float16, .bfloat16, .float64].contains(entry.dtype) { count += entry.shape.reduce(1, *) }
        }
      }
      components.append(
        ModelInspection.Component(
          name: name, className: index.components[name]?.className, parameterCount: count, dtypes: dtypes,
          files: weightFiles.urls.map { $0.path.replacingOccurrences(of: url.path + "/", with: "") }))
    }
    for name in index.isStableDiffusionXL ? ["tokenizer", "tokenizer_2", "scheduler"] : ["tokenizer", "scheduler"] {
      components.append(ModelInspection.Component(name: name, className: index.components[name]?.className))
    }
    let latentSize = unet.sampleSize ?? 64
    return ModelInspection(
      directory: url.path, family: family, predictionType: scheduler.predictionType ?? "epsilon",
      nativeResolution: latentSize * vae.downsamplingFactor, components: components, notes: notes)
  }
}
