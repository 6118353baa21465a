import Networks
import TensorCore

/// The Stable Diffusion VAE's decoder can be fine-tuned per image (``BackgroundMode/optimize(_:)``).
extension AutoencoderKL: FineTunableDecoder {
  /// The decoder's architecture from the VAE configuration.
  public var decoderArchitecture: VAEDecoderArchitecture {
    VAEDecoderArchitecture(
      blockOutChannels: configuration.blockOutChannels, layersPerBlock: configuration.resolvedLayersPerBlock,
      normNumGroups: configuration.resolvedGroupCount, latentChannels: configuration.resolvedLatentChannels,
      outChannels: configuration.outChannels, midBlockAddAttention: configuration.midBlockAddAttention)
  }

  /// The decoder's and `post_quant_conv`'s weights under their checkpoint keys.
  public func decoderWeights() -> [String: Tensor] {
    parameterSnapshot().filter { $0.key.hasPrefix("decoder.") || $0.key.hasPrefix("post_quant_conv.") }
  }
}
