import TensorCore

/// The latent autoencoder (diffusers `AutoencoderKL`): images ↔ latents.
///
/// The sampler works on *scaled* latents `z = scalingFactor · mean(E(x))`; this protocol speaks unscaled
/// latents, exactly as diffusers' `vae.encode(x).latent_dist.mean` and `vae.decode(z / scaling_factor)`.
public protocol LatentAutoencoder: Sendable {
  /// `scaling_factor` from the VAE config (0.18215 for Stable Diffusion 1.x and 2.x).
  var scalingFactor: Float { get }
  /// The number of latent channels (4 for Stable Diffusion).
  var latentChannels: Int { get }
  /// The spatial downsampling factor between pixels and latents (8 for Stable Diffusion).
  var downsamplingFactor: Int { get }

  /// Encodes images to the mean of the latent posterior (not a sample).
  /// - Parameter images: `[N, 3, H, W]` in [-1, 1], with H and W multiples of ``downsamplingFactor``.
  /// - Returns: Unscaled latents `[N, latentChannels, H / f, W / f]`.
  /// - Throws: Conformers' own errors.
  func encodeMean(_ images: Tensor) throws -> Tensor

  /// Encodes images to the latent posterior (mean and standard deviation). The inpainting conditioning samples
  /// it, as diffusers' inpainting pipeline does. The default is deterministic: ``encodeMean(_:)`` with σ = 0.
  /// - Parameter images: `[N, 3, H, W]` in [-1, 1], with H and W multiples of ``downsamplingFactor``.
  /// - Returns: The unscaled posterior, `[N, latentChannels, H / f, W / f]`.
  /// - Throws: Conformers' own errors.
  func encodePosterior(_ images: Tensor) throws -> LatentPosterior

  /// Decodes unscaled latents to images.
  /// - Parameter latents: `[N, latentChannels, h, w]` (already divided by ``scalingFactor``).
  /// - Returns: Images `[N, 3, h · f, w · f]`, nominally in [-1, 1] (not clamped).
  /// - Throws: Conformers' own errors.
  func decode(_ latents: Tensor) throws -> Tensor
}

extension LatentAutoencoder {
  /// A deterministic posterior: ``encodeMean(_:)`` with σ = 0.
  public func encodePosterior(_ images: Tensor) throws -> LatentPosterior {
    LatentPosterior(mean: try encodeMean(images), logVariance: nil)
  }
}
