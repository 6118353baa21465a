import Foundation
import TensorCore

extension SingleFileCheckpoint {
  /// What decided a checkpoint's prediction type.
  public enum PredictionTypeEvidence: String, Sendable, Equatable {
    /// Given by the caller (`--prediction`).
    case given = "given"
    /// Declared in the file's header metadata (`modelspec.prediction_type` or `modelspec.architecture`).
    case metadata = "declared in the file's metadata"
    /// A one-step probe of the UNet (SD 2.x models without metadata).
    case probe = "one-step UNet probe"
    /// The family's: only SD 2.x 768 models predict v, and SD 2.x checkpoints are probed.
    case family = "family default"
  }

  /// The prediction type the header metadata declares, as Stability AI's model spec writes it:
  /// `modelspec.prediction_type` (`epsilon`, `v`), or an architecture name such as
  /// `stable-diffusion-v2-768-v`.
  public var declaredPredictionType: PredictionType? {
    switch file.metadata["modelspec.prediction_type"]?.lowercased() {
    case "epsilon", "eps": return .epsilon
    case "v", "v_prediction", "v-prediction": return .vPrediction
    default: break
    }
    guard let architecture = file.metadata["modelspec.architecture"]?.lowercased() else { return nil }
    return architecture.hasSuffix("-v") || architecture.contains("-v/") ? .vPrediction : .epsilon
  }

  /// Decides the UNet's prediction type without the caller's help: the file's metadata when it declares one; for SD
  /// 2.x (not inpainting) checkpoints without it, the probe AUTOMATIC1111 uses (see ``probeStatistic(_:)``) on the
  /// UNet built from the family's embedded configuration and read from the mapped file; otherwise ε (SD 1.x and the
  /// inpainting models predict ε).
  /// - Throws: ``ModelLoadingError`` when the probe is needed but the UNet cannot be loaded with the embedded
  ///   configuration (a checkpoint whose networks are not the family's published shapes).
  public func decidePredictionType() throws(ModelLoadingError) -> (PredictionType, PredictionTypeEvidence) {
    if let declared = declaredPredictionType { return (declared, .metadata) }
    guard family.generation == .stableDiffusion2 && !family.isInpainting else { return (.epsilon, .family) }
    try checkPublishedShapes()
    let configuration = try ModelConfigurations.embedded(for: family, predictionType: .epsilon).unet
    let unet: UNet2DConditionModel
    do {
      unet = try UNet2DConditionModel(configuration: configuration)
      _ = try WeightLoader.assign(sources(for: unet), to: unet, residency: .mappedFile, description: url.path)
    } catch {
      throw .wrapping(error, folder: url.path, component: "unet")
    }
    return (probeStatistic(unet) < -1 ? .vPrediction : .epsilon, .probe)
  }

  /// AUTOMATIC1111's v-prediction probe: the mean of the UNet's output minus its input at timestep 999, on latents
  /// `[1, C, 8, 8]` and a 2-token context that are 0.5 everywhere. Below −1 for the v-prediction SD 2.x models,
  /// above it for the ε models.
  /// - Parameter unet: the checkpoint's UNet, loaded.
  public func probeStatistic(_ unet: UNet2DConditionModel) -> Double {
    let latents = Tensor(shape: [1, unet.configuration.inChannels, 8, 8], repeating: 0.5)
    let context = Tensor(shape: [1, 2, unet.configuration.resolvedCrossAttentionWidths[0]], repeating: 0.5)
    let output = unet(latents, timestep: 999, encoderHiddenStates: context)
    return output.scalars.reduce(0.0) { $0 + Double($1) - 0.5 } / Double(output.count)
  }

  /// Checks that the checkpoint has its family's published cross-attention width (768 for SD 1.x, 1024 for SD 2.x),
  /// which the embedded configurations describe.
  /// - Throws: ``ModelLoadingError`` with `ConfigurationError.unsupported` naming the width and what to pass.
  func checkPublishedShapes() throws(ModelLoadingError) {
    let published = family.generation == .stableDiffusion1 ? 768 : 1024
    guard family.crossAttentionWidth == published else {
      throw ModelLoadingError(
        folder: url.path, component: "unet",
        cause: .configuration(
          .unsupported(
            file: url.path, field: "cross_attention_dim",
            value:
              "\(family.crossAttentionWidth) (the published \(family.generation.rawValue) models have \(published); "
              + "give a diffusers folder with this model's configurations, bld's --config)")))
    }
  }
}
