import TensorCore

/// diffusers `AutoencoderKL`, Stable Diffusion's VAE.
///
/// `encode` maps an image in [-1, 1] to the diagonal Gaussian posterior (mean, log-variance) of its latents;
/// `decode` maps (unscaled) latents back to an image. Multiply posterior samples by
/// `configuration.resolvedScalingFactor` before the UNet and divide by it before `decode`.
///
/// Checkpoint keys: `encoder`, `decoder`, `quant_conv`, `post_quant_conv`.
/// Matches: diffusers 0.42 `AutoencoderKL.encode(x).latent_dist.{mean,logvar}` and `decode(z).sample`.
/// Limitations: no tiling or slicing.
public final class AutoencoderKL: Layer, @unchecked Sendable {
  /// The configuration the model was built from.
  public let configuration: AutoencoderKLConfiguration
  /// The encoder half.
  public let encoder: VAEEncoder
  /// The decoder half (the part fine-tuned by background reconstruction).
  public let decoder: VAEDecoder
  let quantConvolution: Conv2D?
  /// `post_quant_conv`, the 1×1 convolution applied to latents before the decoder (not part of the decoder, so
  /// not fine-tuned); nil when `use_post_quant_conv` is false.
  public let postQuantConvolution: Conv2D?

  /// Creates a zero-initialised VAE.
  /// - Throws: `ConfigurationError` if the configuration is not supported.
  public init(configuration: AutoencoderKLConfiguration) throws {
    self.configuration = configuration
    encoder = try VAEEncoder(configuration: configuration)
    decoder = try VAEDecoder(configuration: configuration)
    let latent = configuration.resolvedLatentChannels
    quantConvolution =
      configuration.useQuantConv ?? true
      ? Conv2D(inputChannels: 2 * latent, outputChannels: 2 * latent, kernelSize: 1) : nil
    postQuantConvolution =
      configuration.usePostQuantConv ?? true
      ? Conv2D(inputChannels: latent, outputChannels: latent, kernelSize: 1) : nil
  }

  /// Registers `encoder`, `decoder`, `quant_conv`, `post_quant_conv`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("encoder", encoder)
    registry.child("decoder", decoder)
    registry.child("quant_conv", quantConvolution)
    registry.child("post_quant_conv", postQuantConvolution)
  }

  /// The latent scaling factor (`scaling_factor`, 0.18215 when the configuration omits it).
  public var scalingFactor: Float { configuration.resolvedScalingFactor }
  /// The number of latent channels (`latent_channels`, 4 for Stable Diffusion).
  public var latentChannels: Int { configuration.resolvedLatentChannels }
  /// The spatial factor between image and latents, `2^(blocks − 1)` (8 for Stable Diffusion).
  public var downsamplingFactor: Int { configuration.downsamplingFactor }

  /// The posterior of the latents of `image`.
  /// - Parameter image: `[N, in_channels, H, W]` with values in [-1, 1]; `H`, `W` divisible by the
  ///   down-sampling factor.
  /// - Returns: `mean` and `logVariance` (clamped to [-30, 20] as diffusers does), each
  ///   `[N, latent_channels, H/f, W/f]`.
  public func encode(_ image: Tensor) -> (mean: Tensor, logVariance: Tensor) {
    precondition(
      image.rank == 4 && image.shape[1] == configuration.inChannels,
      "AutoencoderKL.encode expects [N, \(configuration.inChannels), H, W], got \(image.shape)")
    var moments = encoder(image)
    if let quantConvolution { moments = quantConvolution(moments) }
    let halves = moments.chunked(2, axis: 1)
    return (halves[0], halves[1].clamped(to: -30...20))
  }

  /// The decoder's input for unscaled latents: `post_quant_conv` applied, or the latents themselves without it.
  /// - Parameter latents: `[N, latent_channels, h, w]` (already divided by the scaling factor).
  /// - Returns: `[N, latent_channels, h, w]`.
  public func decoderInput(for latents: Tensor) -> Tensor {
    postQuantConvolution.map { $0(latents) } ?? latents
  }

  /// Decodes unscaled latents.
  /// - Parameter latents: `[N, latent_channels, h, w]` (already divided by the scaling factor).
  /// - Returns: the image `[N, out_channels, h·f, w·f]`, nominally in [-1, 1] (not clamped).
  public func decode(_ latents: Tensor) -> Tensor {
    precondition(
      latents.rank == 4 && latents.shape[1] == configuration.resolvedLatentChannels,
      "AutoencoderKL.decode expects [N, \(configuration.resolvedLatentChannels), h, w], got \(latents.shape)"
    )
    return decoder(decoderInput(for: latents))
  }
}
