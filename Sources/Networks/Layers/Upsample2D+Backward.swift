import TensorCore

extension Upsample2D: DifferentiableBlock {
  /// The training forward: nearest 2× then `conv` (the 2× case of `callAsFunction(_:size:)`, the VAE's).
  /// - Parameter input: `[N, C, H, W]`.
  /// - Returns: `[N, C_out, 2H, 2W]`.
  public func output(from activations: Void, input: Tensor) -> Tensor { conv(upsampling: input) }

  /// The backward pass: `conv`'s on the upsampled input, each input element receiving the sum of the gradients of
  /// the 2×2 block it was copied to; the Winograd transforms read `input` as upsampled and sum the blocks as they
  /// write, so neither upsampled tensor is stored.
  public func backward(
    _ activations: Void, input: Tensor, outputGradient: Tensor, frozen: FrozenGroupNormStatistics,
    needsInputGradient: Bool, gradients: inout ParameterGradients
  ) -> Tensor? {
    conv.backward(
      outputGradient: outputGradient, upsampledInput: input, needsInputGradient: needsInputGradient,
      gradients: &gradients)
  }

  /// `[N, C, H, W]` → `[N, C_out, 2H, 2W]`.
  public func outputShape(forInput inputShape: [Int]) -> [Int] {
    [inputShape[0], conv.storedWeight.shape[0], 2 * inputShape[2], 2 * inputShape[3]]
  }
}
