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
  /// 2.x (not inpainting) checkpoints without it, the probe AUTOMATIC1111 uses — the UNet at timestep 999 on
  /// latents and a 2-token context of 0.5 everywhere: a v-prediction model's output minus the input averages below
  /// −1, an ε model's does not; otherwise ε (SD 1.x and the inpainting models predict ε).
  /// - Parameter unet: the checkpoint's UNet, loaded (only used for the probe).
  public func predictionType(probing unet: UNet2DConditionModel) -> (PredictionType, PredictionTypeEvidence) {
    if let declared = declaredPredictionType { return (declared, .metadata) }
    guard family.generation == .stableDiffusion2 && !family.isInpainting else { return (.epsilon, .family) }
    let latents = Tensor(shape: [1, unet.configuration.inChannels, 8, 8], repeating: 0.5)
    let context = Tensor(shape: [1, 2, family.crossAttentionWidth], repeating: 0.5)
    let output = unet(latents, timestep: 999, encoderHiddenStates: context)
    let difference = output.scalars.reduce(0.0) { $0 + Double($1) - 0.5 } / Double(output.count)
    return (difference < -1 ? .vPrediction : .epsilon, .probe)
  }
}
