import Foundation
import Networks

extension BlendedLatentEditor {
  /// An editor over a loaded Stable Diffusion model: its tokenizer and text encoder, VAE, UNet and the
  /// scheduler configuration of its folder (`scheduler/scheduler_config.json`), or diffusers'
  /// Stable Diffusion defaults for a model built in code.
  /// - Throws: `PipelineError.componentFailed` when the model has no tokenizer; `SchedulerError` when the
  ///   folder's scheduler configuration is unreadable or unsupported.
  public init(model: StableDiffusionModel) throws {
    guard let tokenizer = model.tokenizer else {
      throw PipelineError.componentFailed(stage: "text encoding", reason: "the model has no tokenizer")
    }
    let scheduler: SchedulerConfiguration
    if let directory = model.directory {
      scheduler = try SchedulerConfiguration.decode(contentsOf: directory.schedulerConfiguration)
    } else {
      scheduler = .stableDiffusion
    }
    self.init(
      textEncoder: CLIPTextConditioning(tokenizer: tokenizer, textEncoder: model.textEncoder),
      autoencoder: model.vae, noisePredictor: model.unet, schedulerConfiguration: scheduler)
  }
}
