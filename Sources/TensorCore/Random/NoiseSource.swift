/// A source of standard normal noise, `N(0, I)`, drawn one tensor at a time.
///
/// The blended sampler takes its noise from a `NoiseSource` so that the generator is injectable:
/// the product uses ``TorchGenerator`` (the same draws as `torch.randn` with a seeded CPU generator),
/// and parity tests can pass exact tensors with ``ReplayedNoise``.
public protocol NoiseSource: Sendable {
  /// Draws a tensor of the given shape whose elements are independent standard normal samples.
  ///
  /// - Parameter shape: The shape of the tensor to draw (row-major; the draw order is the element order).
  /// - Returns: A tensor of `shape`.
  mutating func normal(shape: [Int]) -> Tensor
}
