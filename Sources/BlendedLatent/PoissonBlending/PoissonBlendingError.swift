import Foundation

/// Why Poisson blending could not produce an image.
public enum PoissonBlendingError: Error, Sendable, Equatable, CustomStringConvertible {
  /// An input has an unusable shape.
  case inputShapeMismatch(name: String, expected: String, actual: [Int])
  /// A solver setting is out of range.
  case invalidOption(name: String, value: String)
  /// Conjugate gradients stopped at the iteration limit above the tolerance, for one sample and channel.
  case notConverged(sample: Int, channel: Int, iterations: Int, relativeResidual: Double)

  /// A one-line explanation naming the input, option or channel.
  public var description: String {
    switch self {
    case .inputShapeMismatch(let name, let expected, let actual): "\(name) has shape \(actual), expected \(expected)"
    case .invalidOption(let name, let value): "invalid Poisson blending option \(name) = \(value)"
    case .notConverged(let sample, let channel, let iterations, let residual):
      "Poisson solve for sample \(sample), channel \(channel) stopped after \(iterations) iterations at relative residual \(residual)"
    }
  }
}

extension PoissonBlendingError: LocalizedError {
  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
