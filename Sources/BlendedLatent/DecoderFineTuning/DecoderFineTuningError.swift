import Foundation

/// Why a decoder fine-tune could not be built or run.
public enum DecoderFineTuningError: Error, Sendable, Equatable, CustomStringConvertible {
  /// A configuration field describes no buildable decoder.
  case invalidArchitecture(field: String, value: String)
  /// The weights dictionary lacks a parameter of the decoder (or of `post_quant_conv`).
  case missingWeight(key: String)
  /// A decoder parameter has the wrong shape.
  case weightShapeMismatch(key: String, expected: [Int], actual: [Int])
  /// The weights dictionary has a key that names no parameter of the autoencoder (for example a decoder key this
  /// configuration does not have).
  case unexpectedWeight(key: String)
  /// An input tensor (decoder input, images, mask) has an unusable shape.
  case inputShapeMismatch(name: String, expected: String, actual: [Int])
  /// An option is out of range.
  case invalidOption(name: String, value: String)
  /// The loss became NaN or infinite at an iteration (1-based).
  case nonFiniteLoss(iteration: Int)
  /// The progress handler asked to stop after this many completed iterations; no image is produced.
  case cancelled(completedIterations: Int)

  /// A one-line explanation naming the key, field or input.
  public var description: String {
    switch self {
    case .invalidArchitecture(let field, let value): "invalid VAE decoder configuration: \(field) = \(value)"
    case .missingWeight(let key): "missing decoder weight \(key)"
    case .weightShapeMismatch(let key, let expected, let actual):
      "decoder weight \(key) has shape \(actual), expected \(expected)"
    case .unexpectedWeight(let key): "unexpected weight \(key) for this VAE configuration"
    case .inputShapeMismatch(let name, let expected, let actual): "\(name) has shape \(actual), expected \(expected)"
    case .invalidOption(let name, let value): "invalid fine-tuning option \(name) = \(value)"
    case .nonFiniteLoss(let iteration): "decoder fine-tuning loss is not finite at iteration \(iteration)"
    case .cancelled(let completed): "decoder fine-tuning cancelled after \(completed) iterations"
    }
  }
}

extension DecoderFineTuningError: LocalizedError {
  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
