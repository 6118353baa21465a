import TensorCore

extension Upsample2D: DifferentiableBlock {
  /// The training forward: nearest 2× then `conv` (the 2× case of `callAsFunction(_:size:)`, the VAE's).
  /// - Parameter input: `[N, C, H, W]`.
  /// - Returns: `[N, C_out, 2H, 2W]`.
  public func output(from activations: Void, input: Tensor) -> Tensor { conv(upsampleNearest2x(input)) }

  /// The backward pass: `conv`'s on the upsampled input (recomputed: a copy), then each input element receives
  /// the sum of the 2×2 block it was copied to.
  public func backward(
    _ activations: Void, input: Tensor, outputGradient: Tensor, frozen: FrozenGroupNormStatistics,
    needsInputGradient: Bool, gradients: inout ParameterGradients
  ) -> Tensor? {
    let dUpsampled = conv.backward(
      outputGradient: outputGradient, input: upsampleNearest2x(input), needsInputGradient: needsInputGradient,
      gradients: &gradients)
    return dUpsampled.map { upsampleNearest2xBackward(outputGradient: $0) }
  }

  /// `[N, C, H, W]` → `[N, C_out, 2H, 2W]`.
  public func outputShape(forInput inputShape: [Int]) -> [Int] {
    [inputShape[0], conv.storedWeight.shape[0], 2 * inputShape[2], 2 * inputShape[3]]
  }
}
