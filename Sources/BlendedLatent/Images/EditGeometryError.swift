/// Why ``EditGeometry`` cannot place an edit: an argument outside what the geometry supports.
public enum EditGeometryError: Error, CustomStringConvertible, Equatable, Sendable {
  /// An argument is negative, zero where it must be positive, or beyond ``EditGeometry/maximumSide``.
  case invalidArgument(name: String, value: Int, reason: String)
  /// The mask is not `[H, W]`.
  case invalidMaskShape([Int])

  /// A one-line explanation naming the argument.
  public var description: String {
    switch self {
    case .invalidArgument(let name, let value, let reason): "\(name) = \(value): \(reason)"
    case .invalidMaskShape(let shape): "the mask must be [H, W], got \(shape)"
    }
  }
}
