/// An autoencoder whose decoder can be fine-tuned per image (``BackgroundMode/optimize(_:)``): it gives a
/// ``DecoderFineTuner`` over its decoder, which trains copies and never changes the autoencoder.
public protocol FineTunableDecoder: Sendable {
  /// A fine-tuner whose calls start from this model's decoder weights.
  /// - Throws: `DecoderFineTuningError.invalidArchitecture` when the decoder cannot be trained.
  func decoderFineTuner() throws(DecoderFineTuningError) -> DecoderFineTuner
}
