import Networks

/// The Stable Diffusion VAE's decoder can be fine-tuned per image (``BackgroundMode/optimize(_:)``).
extension AutoencoderKL: FineTunableDecoder {
  /// A fine-tuner over this VAE's decoder (and its `post_quant_conv`); the VAE itself is only read.
  /// - Throws: `DecoderFineTuningError.invalidArchitecture` when the decoder does not use SiLU.
  public func decoderFineTuner() throws(DecoderFineTuningError) -> DecoderFineTuner {
    try DecoderFineTuner(autoencoder: self)
  }
}
