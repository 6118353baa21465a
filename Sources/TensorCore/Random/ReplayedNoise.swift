/// A noise source that returns given tensors in order, for parity tests with exact noise.
///
/// Each call to ``normal(shape:)`` returns the next stored tensor, reshaped to the requested shape.
/// Requesting more draws than stored, or a shape with a different element count, is a programming
/// error in the test and stops with a precondition failure naming the draw.
public struct ReplayedNoise: NoiseSource, Sendable {
  /// The tensors still to be returned, in order.
  public private(set) var remaining: [Tensor]
  /// How many tensors have been returned so far.
  public private(set) var drawCount = 0

  /// Creates a source that replays `tensors` in order.
  /// - Parameter tensors: The draws, first draw first.
  public init(_ tensors: [Tensor]) { remaining = tensors }

  /// Returns the next stored tensor, reshaped to `shape`.
  /// - Precondition: a tensor is left and its element count equals the product of `shape`.
  public mutating func normal(shape: [Int]) -> Tensor {
    precondition(!remaining.isEmpty, "ReplayedNoise: draw \(drawCount) requested \(shape) but no tensor is left")
    let next = remaining.removeFirst()
    precondition(
      next.count == shape.reduce(1, *),
      "ReplayedNoise: draw \(drawCount) requested \(shape), stored tensor has shape \(next.shape)")
    drawCount += 1
    return next.reshaped(shape)
  }
}
