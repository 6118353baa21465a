import TensorCore

/// A scheduler over variance-exploding latents `x = x₀ + σ ε` (Euler, Euler ancestral), whose model input is
/// scaled to unit variance.
public protocol SigmaScheduler: Scheduler {
  /// σ for each step plus the final σ (`timesteps.count + 1` values, float32).
  var sigmas: [Float] { get }
}

extension SigmaScheduler {
  /// x / √(σ² + 1), as diffusers' `scale_model_input`.
  public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor {
    let sigma = sigmas[stepIndex]
    let scale = (sigma * sigma + 1).squareRoot()
    return sample.map { $0 / scale }
  }
}
