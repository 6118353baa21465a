/// 2-D convolution through the faster of the two algorithms for these shapes: Winograd (`WinogradTile.preferred`)
/// with the weights transformed per call where `conv2d3x3WinogradIsPreferred` says so (3×3, stride 1, padding 1, large
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

/// `conv2dPreferringWinograd(_:weight:bias:stride:padding:)` with the weight as stored: one stored at half width
/// (IEEE half or bfloat16, in memory or mapped) is transformed or packed straight from its bits on a TensorCore
/// kernel family, never widened whole (`WinogradWeights(shape:halfPrecisionBits:isBFloat16:)`,
/// `conv2d(_:weightShape:halfPrecisionBits:…)`); other storage (float32, low-rank updates) and OpenBLAS widen it
/// first. Same results either way.
package func conv2dPreferringWinograd(
  _ input: Tensor, storedWeight: StoredTensor, bias: Tensor?, stride: Int = 1, padding: Int = 0
) -> Tensor {
  let shape = storedWeight.shape
  if !GEMMPlan.current.usesBLAS,
    let result = storedWeight.withHalfPrecisionBits({ bits, isBFloat16 in
      if conv2d3x3WinogradIsPreferred(inputShape: input.shape, weightShape: shape, stride: stride, padding: padding) {
        do {
          let tile = WinogradTile.preferred(
            batch: input.shape[0], height: input.shape[2], width: input.shape[3], inputChannels: shape[1],
            outputChannels: shape[0])
          let weights = try WinogradWeights(
            shape: shape, halfPrecisionBits: bits, isBFloat16: isBFloat16, tile: tile)
          return conv2d3x3Winograd(input, weights: weights, bias: bias)
        } catch {
          preconditionFailure("conv2dPreferringWinograd: \(error)")
        }
      }
      return conv2d(
        input, weightShape: shape, halfPrecisionBits: bits, isBFloat16: isBFloat16, bias: bias, stride: stride,
        padding: padding)
    })
  {
    return result
  }
  return conv2dPreferringWinograd(input, weight: storedWeight.tensor, bias: bias, stride: stride, padding: padding)
}
