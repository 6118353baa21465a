import Foundation
import Networks
import TensorCore

extension BlendedLatentEditor {
  /// An editor over a loaded Stable Diffusion model: its tokenizer and text encoder, VAE, UNet and the
  /// scheduler configuration of its folder (`scheduler/scheduler_config.json`), or diffusers'
  /// Stable Diffusion defaults for a model built in code.
  /// - Parameters:
  ///   - model: The loaded model.
  ///   - computeSettings: Threads and matrix precision of the edits (default: the process's CPUs, fp32).
  /// - Throws: ``SchedulerError`` when the folder's scheduler configuration is unreadable or unsupported.
  public init(model: StableDiffusionModel, computeSettings: ComputeSettings = ComputeSettings()) throws(SchedulerError)
  {
    let scheduler: SchedulerConfiguration
    if let directory = model.directory {
      scheduler = try SchedulerConfiguration.decode(contentsOf: directory.schedulerConfiguration)
    } else {
      scheduler = .stableDiffusion
    }
    self.init(
      textEncoder: CLIPTextConditioning(tokenizer: model.tokenizer, textEncoder: model.textEncoder),
      autoencoder: model.vae, noisePredictor: model.unet, schedulerConfiguration: scheduler,
      computeSettings: computeSettings)
  }
}
