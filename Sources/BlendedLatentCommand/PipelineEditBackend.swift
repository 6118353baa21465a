import BlendedLatent
import Foundation
import Networks
import TensorCore

/// Loads a Stable Diffusion folder (or the demonstration model) and edits through `BlendedLatentEditor`.
struct PipelineEditBackend: EditBackend {
  func prepareEditor(settings: EditSettings, progress: ProgressHandler) throws -> any PreparedEditor {
    guard progress(EditProgress(phase: .loading, completed: 0, total: 1)) == .proceed else {
      throw EditCommandError.cancelled
    }
    let model: StableDiffusionModel
    var notices: [String] = []
    let description: String
    if let path = settings.modelPath {
      let url = URL(fileURLWithPath: path)
      if (try? url.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true {
        model = try StableDiffusionModel(directory: ModelDirectory(root: url))
        description = path
      } else {
        model = try StableDiffusionModel(
          checkpoint: url,
          configurations: settings.modelConfigurationDirectory.map { ModelDirectory(root: URL(fileURLWithPath: $0)) },
          predictionType: settings.predictionType)
        let family = model.checkpoint.map { "\($0.family)" } ?? ""
        description = "\(path) (\(family), \(model.predictionType?.rawValue ?? "scheduler's") prediction)"
      }
    } else {
      model = DemonstrationModel.make()
      description = "built-in demonstration model"
      notices.append(
        "no --model given: using the built-in demonstration model, whose weights are RANDOM — it shows the "
          + "mechanics (the mask is respected, --background paste keeps every outside pixel), not real edits")
    }
    try model.apply(
      settings.loras.map { setting throws(LoRAError) in
        ScaledLoRA(try LoRA(contentsOf: URL(fileURLWithPath: setting.path)), scale: Float(setting.scale))
      })
    var editor = try BlendedLatentEditor(model: model, computeSettings: settings.computeSettings)
    if let predictionType = settings.predictionType {
      editor.schedulerConfiguration.predictionType = predictionType.rawValue
    }
    if let path = settings.rankingModelDirectory {
      editor.ranker = try CLIPRanker(directory: URL(fileURLWithPath: path))
    }
    _ = progress(EditProgress(phase: .loading, completed: 1, total: 1))
    let latentSize = model.unet.configuration.sampleSize ?? 64
    return PipelineEditor(
      editor: editor, nativeResolution: latentSize * model.vae.downsamplingFactor,
      sizeMultiple: model.vae.downsamplingFactor, modelDescription: description, notices: notices)
  }
}

/// A loaded editor, driven by the command.
struct PipelineEditor: PreparedEditor {
  let editor: BlendedLatentEditor
  let nativeResolution: Int
  let sizeMultiple: Int
  let modelDescription: String
  let notices: [String]

  func edit(_ request: EditRequest, progress: ProgressHandler) throws -> EditResult {
    try editor.edit(request, progress: progress)
  }
}
