import Foundation
import Networks
import TensorCore

extension BlendedLatentEditor {
  /// An editor over a loaded Stable Diffusion model: its tokenizer and text encoder, VAE, UNet and the
  /// scheduler configuration that goes with it (a folder's `scheduler/scheduler_config.json`, the embedded one
  /// of a single file's family, or diffusers' Stable Diffusion defaults for a model built in code), with the
  /// prediction type the loader decided, if it did.
  /// - Parameters:
  ///   - model: The loaded model.
  ///   - computeSettings: Threads and matrix precision of the edits (default: the process's CPUs, fp32).
  /// - Throws: ``SchedulerError`` when the scheduler configuration is unreadable or unsupported.
  public init(model: StableDiffusionModel, computeSettings: ComputeSettings = ComputeSettings()) throws(SchedulerError)
  {
    var scheduler: SchedulerConfiguration
    if let file = model.schedulerConfigurationFile {
      scheduler = try SchedulerConfiguration.decode(contentsOf: file)
    } else {
      scheduler = .stableDiffusion
    }
    if let predictionType = model.predictionType { scheduler.predictionType = predictionType.rawValue }
    self.init(
      textEncoder: CLIPTextConditioning(tokenizer: model.tokenizer, textEncoder: model.textEncoder),
      autoencoder: model.vae, noisePredictor: model.unet, schedulerConfiguration: scheduler,
      computeSettings: computeSettings)
  }
}
