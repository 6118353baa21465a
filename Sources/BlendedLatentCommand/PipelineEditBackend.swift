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
    var notices: [String] = []
    var loaded: LoadedModel
    let loras = try settings.loras.map { setting throws(LoRAError) in
      ScaledLoRA(try LoRA(contentsOf: URL(fileURLWithPath: setting.path)), scale: Float(setting.scale))
    }
    if let path = settings.modelPath {
      loaded = try LoadedModel(
        path: path, configurationDirectory: settings.modelConfigurationDirectory,
        predictionType: settings.predictionType, loras: loras, computeSettings: settings.computeSettings)
    } else {
      loaded = try LoadedModel(
        model: DemonstrationModel.make(), description: "built-in demonstration model", name: "demonstration",
        predictionType: settings.predictionType, loras: loras, computeSettings: settings.computeSettings)
      notices.append(
        "no --model given: using the built-in demonstration model, whose weights are RANDOM — it shows the "
          + "mechanics (the mask is respected, --background paste keeps every outside pixel), not real edits")
    }
    if let path = settings.rankingModelDirectory {
      loaded.editor.ranker = try CLIPRanker(directory: URL(fileURLWithPath: path))
    }
    _ = progress(EditProgress(phase: .loading, completed: 1, total: 1))
    return PipelineEditor(
      editor: loaded.editor, nativeResolution: loaded.nativeResolution, sizeMultiple: loaded.sizeMultiple,
      modelDescription: loaded.description, notices: notices)
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
