import Foundation
import TensorCore

/// The diagonal Gaussian a latent autoencoder encodes an image to (diffusers' `latent_dist`), unscaled.
public struct LatentPosterior: Sendable {
  /// The mean `[N, C, h, w]`.
  public let mean: Tensor
  /// The standard deviation `exp(0.5 · logvar)` `[N, C, h, w]` (log-variance clamped to [-30, 20] by the
  /// encoder, as diffusers does); zeros for a deterministic encoder.
  public let standardDeviation: Tensor

  /// A posterior from its mean and clamped log-variance.
  /// - Parameters:
  ///   - mean: The mean `[N, C, h, w]`.
  ///   - logVariance: The log-variance of the same shape, or `nil` for a deterministic encoder (σ = 0).
  public init(mean: Tensor, logVariance: Tensor?) {
    self.mean = mean
    standardDeviation = logVariance.map { log in log.map { Foundation.exp(0.5 * $0) } } ?? Tensor(shape: mean.shape)
  }

  /// One sample `mean + σ ⊙ n` with `n ~ N(0, I)` of the mean's shape drawn from `noise` (diffusers'
  /// `latent_dist.sample(generator)`: one draw, even when σ is 0).
  /// - Parameter noise: The noise source.
  /// - Returns: Unscaled latents `[N, C, h, w]`.
  public func sample<Source: NoiseSource>(noise: inout Source) -> Tensor {
    let draw = noise.normal(shape: mean.shape)
    return Tensor.zipped(mean, Tensor.zipped(standardDeviation, draw) { s, n in s * n }) { m, d in m + d }
  }
}
