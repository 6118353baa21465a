import Foundation
import Networks
import TensorCore

/// A Stable Diffusion model loaded from a path the way `bld edit` and `bld serve` take `--model`: a diffusers
/// folder, or a single-file `.safetensors` checkpoint built with an optional configuration folder (`--config`)
/// and prediction type (`--prediction`); with the editor that runs on it.
package struct LoadedModel: Sendable {
  /// The editor over the model (its scheduler configuration honours the prediction override).
  package var editor: BlendedLatentEditor
  /// One line naming the model: the folder's path, or the file with its family and prediction type.
  package var description: String
  /// The file or folder name the model is known by (no directories), e.g. for AUTOMATIC1111's `sd-models`.
  package var name: String
  /// The resolution the model was trained at (the UNet's sample size × the autoencoder factor).
  package var nativeResolution: Int
  /// Working sides are multiples of this (the autoencoder's factor, 8 for Stable Diffusion).
  package var sizeMultiple: Int

  /// Loads the model at `path`.
  /// - Parameters:
  ///   - path: A diffusers folder or a single-file `.safetensors` checkpoint.
  ///   - configurationDirectory: For a single file: the folder whose configurations and tokenizer to use.
  ///   - predictionType: Overrides the UNet's prediction type.
  ///   - loras: LoRAs applied to the model, on read, before the editor is built.
  ///   - computeSettings: The editor's threads and matrix precision.
  /// - Throws: the loaders' errors (`ModelLoadingError`, `SingleFileCheckpointError`, `LoRAError`,
  ///   `SchedulerError`).
  package init(
    path: String, configurationDirectory: String?, predictionType: PredictionType?, loras: [ScaledLoRA] = [],
    computeSettings: ComputeSettings
  ) throws {
    let url = URL(fileURLWithPath: path)
    let model: StableDiffusionModel
    let description: String
    if (try? url.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true {
      model = try StableDiffusionModel(directory: ModelDirectory(root: url))
      description = path
    } else {
      model = try StableDiffusionModel(
        checkpoint: url,
        configurations: configurationDirectory.map { ModelDirectory(root: URL(fileURLWithPath: $0)) },
        predictionType: predictionType)
      let family = model.checkpoint.map { "\($0.family)" } ?? ""
      description = "\(path) (\(family), \(model.predictionType?.rawValue ?? "scheduler's") prediction)"
    }
    try self.init(
      model: model, description: description, name: url.lastPathComponent,
      predictionType: predictionType, loras: loras, computeSettings: computeSettings)
  }

  /// Wraps an already loaded model (e.g. the demonstration model).
  /// - Parameters:
  ///   - model: The networks and tokenizer.
  ///   - description: One line naming the model.
  ///   - name: The name the model is known by.
  ///   - predictionType: Overrides the scheduler configuration's prediction type.
  ///   - loras: LoRAs applied to the model, on read, before the editor is built.
  ///   - computeSettings: The editor's threads and matrix precision.
  /// - Throws: `LoRAError` for a LoRA that does not fit the model, `SchedulerError` when the model's scheduler
  ///   configuration cannot be used.
  package init(
    model: StableDiffusionModel, description: String, name: String, predictionType: PredictionType?,
    loras: [ScaledLoRA] = [], computeSettings: ComputeSettings
  ) throws {
    try model.apply(loras)
    var editor = try BlendedLatentEditor(model: model, computeSettings: computeSettings)
    if let predictionType { editor.schedulerConfiguration.predictionType = predictionType.rawValue }
    self.editor = editor
    self.description = description
    self.name = name
    sizeMultiple = model.vae.downsamplingFactor
    nativeResolution = (model.unet.configuration.sampleSize ?? 64) * model.vae.downsamplingFactor
  }
}
