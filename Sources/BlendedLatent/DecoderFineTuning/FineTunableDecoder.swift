import TensorCore

/// An autoencoder whose decoder can be fine-tuned per image (``BackgroundMode/optimize(_:)``): it exposes
/// the decoder's architecture and a copy of its weights under diffusers' `AutoencoderKL` keys.
public protocol FineTunableDecoder: Sendable {
  /// The decoder's architecture.
  var decoderArchitecture: VAEDecoderArchitecture { get }
  /// A copy of the weights (`decoder.*`, and `post_quant_conv.*` when the model has one), keyed as in
  /// diffusers' checkpoints. The fine-tuner trains its own copy; the model is never changed.
  func decoderWeights() -> [String: Tensor]
}
