import Networks
import TensorCore

/// The Stable Diffusion VAE as the editor's latent autoencoder: the posterior mean (not a sample) on
/// encode, `post_quant_conv` and the decoder on decode.
extension AutoencoderKL: LatentAutoencoder {
  /// The posterior mean of `images` `[N, 3, H, W]` in [-1, 1] → unscaled latents `[N, C, H/f, W/f]`.
  public func encodeMean(_ images: Tensor) throws -> Tensor { encode(images).mean }

  /// The posterior of `images` `[N, 3, H, W]` in [-1, 1]: mean and `exp(0.5 · logvar)`, unscaled.
  public func encodePosterior(_ images: Tensor) throws -> LatentPosterior {
    let moments = encode(images)
    return LatentPosterior(mean: moments.mean, logVariance: moments.logVariance)
  }
}
