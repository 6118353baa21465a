/// 2-D convolution through the faster of the two algorithms for these shapes: Winograd F(4×4, 3×3) with the
/// weights transformed per call where `conv2d3x3WinogradIsPreferred` says so (3×3, stride 1, padding 1, large
/// enough inputs; ≈ 1e-5 relative error against direct fp32), im2col + GEMM (`conv2d`) otherwise.
///
/// Shapes as `conv2d`: `input` `[N, C, H, W]`, `weight` `[O, C, kH, kW]`, `bias` `[O]` or nil.
package func conv2dPreferringWinograd(
  _ input: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0
) -> Tensor {
  if conv2d3x3WinogradIsPreferred(inputShape: input.shape, weightShape: weight.shape, stride: stride, padding: padding)
  {
    return conv2d3x3Winograd(input, weight: weight, bias: bias)
  }
  return conv2d(input, weight: weight, bias: bias, stride: stride, padding: padding)
}
