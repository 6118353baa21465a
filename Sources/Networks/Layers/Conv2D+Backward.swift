import TensorCore

extension Conv2D: DifferentiableBlock {
  /// The backward pass of `callAsFunction(_:)`: adds `∂L/∂weight` (and `∂L/∂bias` when there is a bias) to
  /// `gradients` and returns `∂L/∂x`.
  ///
  /// Through `conv2dBackward`: 3×3 stride-1 padding-1 convolutions large enough for Winograd take both gradients
  /// through Winograd (F(4×4, 3×3), or F(6×6, 3×3) where `WinogradTile` prefers it), as the forward does; the rest
  /// im2col + GEMM (+ col2im).
  /// - Parameters:
  ///   - outputGradient: `∂L/∂y`, the shape the forward returned.
  ///   - input: the forward's input `x`, `[N, I, H, W]`.
  ///   - needsInputGradient: false skips the `∂L/∂x` computation.
  ///   - gradients: where the parameter gradients are added.
  /// - Returns: `∂L/∂x`, `[N, I, H, W]`, or nil when not needed.
  public func backward(
    outputGradient: Tensor, input: Tensor, needsInputGradient: Bool = true, gradients: inout ParameterGradients
  ) -> Tensor? {
    let result = conv2dBackward(
      outputGradient: outputGradient, input: input, weight: weight, stride: stride, padding: padding,
      computeInputGradient: needsInputGradient)
    return accumulated(result, into: &gradients)
  }

  /// The backward pass of `callAsFunction(upsampling:)`: as `backward(outputGradient:input:…)` on
  /// `upsampleNearest2x(input)` followed by `upsampleNearest2xBackward` of `∂L/∂x`, without storing either
  /// upsampled tensor where Winograd takes the gradients (`conv2dBackward(outputGradient:upsampledInput:…)`).
  /// - Returns: `∂L/∂input`, `[N, I, H, W]`, or nil when not needed.
  func backward(
    outputGradient: Tensor, upsampledInput input: Tensor, needsInputGradient: Bool,
    gradients: inout ParameterGradients
  ) -> Tensor? {
    let result = conv2dBackward(
      outputGradient: outputGradient, upsampledInput: input, weight: weight, stride: stride, padding: padding,
      computeInputGradient: needsInputGradient)
    return accumulated(result, into: &gradients)
  }

  /// Adds `result`'s weight (and, with a bias, bias) gradient to `gradients` and returns its input gradient.
  private func accumulated(_ result: Conv2DGradients, into gradients: inout ParameterGradients) -> Tensor? {
    gradients.accumulate(result.weight, for: self, \.storedWeight)
    if bias != nil { gradients.accumulate(result.bias, for: self, \.bias) }
    return result.input
  }

  /// As a block (a decoder's `conv_in`): the forward pass, `x` `[N, I, H, W]` → `[N, O, H′, W′]`.
  public func output(from activations: Void, input: Tensor) -> Tensor { self(input) }

  /// As a block: `backward(outputGradient:input:needsInputGradient:gradients:)`.
  public func backward(
    _ activations: Void, input: Tensor, outputGradient: Tensor, frozen: FrozenGroupNormStatistics,
    needsInputGradient: Bool, gradients: inout ParameterGradients
  ) -> Tensor? {
    backward(
      outputGradient: outputGradient, input: input, needsInputGradient: needsInputGradient, gradients: &gradients)
  }

  /// `[N, I, H, W]` → `[N, O, (H + 2p − k) / s + 1, (W + 2p − k) / s + 1]`.
  public func outputShape(forInput inputShape: [Int]) -> [Int] {
    let (kernel, outputs) = (storedWeight.shape[2], storedWeight.shape[0])
    return [
      inputShape[0], outputs, (inputShape[2] + 2 * padding - kernel) / stride + 1,
      (inputShape[3] + 2 * padding - kernel) / stride + 1,
    ]
  }
}
