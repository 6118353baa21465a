import Networks
import TensorCore

extension DecoderFineTuner {
  /// Creates a tuner from a VAE configuration and a weights dictionary, strictly.
  ///
  /// Builds an `AutoencoderKL` for `configuration` and loads into it the weights of its decoder and of its
  /// `post_quant_conv` (when the configuration has one), under their checkpoint keys (`decoder.conv_in.weight`,
  /// `post_quant_conv.weight`, …). Every one of them must be present with its PyTorch shape, and every key of
  /// `weights` must name a parameter of the autoencoder: the whole VAE dictionary is fine (encoder and
  /// `quant_conv` weights are not read), a decoder key this configuration does not have is an error.
  /// - Parameters:
  ///   - configuration: the VAE's configuration (`vae/config.json`).
  ///   - weights: tensors by checkpoint key.
  /// - Throws: `DecoderFineTuningError` naming the configuration field or weight key at fault.
  public init(configuration: AutoencoderKLConfiguration, weights: [String: Tensor]) throws(DecoderFineTuningError) {
    let autoencoder: AutoencoderKL
    do {
      autoencoder = try AutoencoderKL(configuration: configuration)
    } catch {
      throw Self.architectureError(error)
    }
    let needed =
      autoencoder.parameterEntries(of: autoencoder.decoder)
      + (autoencoder.postQuantConvolution.map { autoencoder.parameterEntries(of: $0) } ?? [])
    for entry in needed {
      guard let tensor = weights[entry.key] else { throw .missingWeight(key: entry.key) }
      guard tensor.shape == entry.shape else {
        throw .weightShapeMismatch(key: entry.key, expected: entry.shape, actual: tensor.shape)
      }
    }
    let known = Set(autoencoder.parameterEntries.map(\.key))
    if let unexpected = weights.keys.filter({ !known.contains($0) }).sorted().first {
      throw .unexpectedWeight(key: unexpected)
    }
    for entry in needed { entry.set(weights[entry.key]!) }
    try self.init(autoencoder: autoencoder)
  }
}
