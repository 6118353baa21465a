/// How a forward 2-D convolution runs on the kernels in force (`ConvolutionAlgorithm.preferred`).
package enum ConvolutionAlgorithm: Equatable, Sendable {
  /// im2col and one GEMM (`conv2d`): every shape, and the fastest for a few tiles or with OpenBLAS.
  case im2col
  /// Winograd with the weights transformed for the call first (`conv2d3x3Winograd(_:weight:bias:tile:)`):
  /// 3×3 stride-1 padding-1 convolutions with many tiles.
  case winograd(WinogradTile)
  /// Winograd F(4×4) with the weights transformed block by block inside the products
  /// (`conv2d3x3WinogradStreamingWeights`): small images, whose few tiles would not pay for writing and
  /// re-reading all the transformed weights.
  case winogradStreamingWeights

  /// The fewest F(4×4) tiles (over the batch) at which a Winograd convolution beats im2col. Below it the
  /// products are narrower than the micro-kernels' 32 columns: measured on Zen 4 at 8×8 with 1280 channels,
  /// batch 2 (8 tiles), im2col 0.027 s against 0.029 s streaming the weights.
  package static let winogradMinimumTiles = 16

  /// The algorithm for these shapes (`inputShape` `[N, C, H, W]`, `weightShape` `[O, C, kH, kW]`). Winograd for a
  /// 3×3 kernel with stride 1 and padding 1, on a TensorCore kernel family, from `winogradMinimumTiles` F(4×4)
  /// tiles on: streaming the weights while the transformed input (`36·C·T` floats for `T` tiles) fits this
  /// core's share of L3, since every row panel of the products reads all of it again, and so do the products
  /// (`36·O·T` floats, held whole until the output transform: a 3-channel input at 512×512 would otherwise hold
  /// 302 MB of them for 128 outputs); otherwise, from
  /// `winogradPerCallMinimumTiles` tiles on, with the weights transformed first (F(4×4) or F(6×6),
  /// `WinogradTile.preferred`). im2col otherwise. Measured on Zen 4 (2 threads, fp16 weights, batch 2): 1280
  /// channels at 16×16 (32 tiles) 0.028 s streaming, 0.040 s transformed first, 0.085 s im2col; 640 at 32×32
  /// (128 tiles) 0.025, 0.027 and 0.087 s; 320 at 64×64 (512 tiles, 23.6 MB of transformed input) 0.032, 0.025 and
  /// 0.078 s.
  package static func preferred(inputShape: [Int], weightShape: [Int], stride: Int, padding: Int)
    -> ConvolutionAlgorithm
  {
    guard winogradApplies(inputShape: inputShape, weightShape: weightShape, stride: stride, padding: padding)
    else { return .im2col }
    let (batch, channels, height, width) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
    let tiles = WinogradTile.four.tileCount(batch: batch, height: height, width: width)
    guard tiles >= winogradMinimumTiles else { return .im2col }
    let columns = GEMMPlan.current.tileColumns
    let pointBytes = MemoryLayout<Float>.size * WinogradTile.four.pointCount
    let inputBytes = pointBytes * channels * ((tiles + columns - 1) / columns * columns)
    let productBytes = pointBytes * weightShape[0] * tiles
    let l3Share = ProcessorDescription.current.l3Share
    if inputBytes <= l3Share && productBytes <= l3Share { return .winogradStreamingWeights }
    guard
      conv2d3x3WinogradIsPreferred(
        inputShape: inputShape, weightShape: weightShape, stride: stride, padding: padding)
    else { return .im2col }
    return .winograd(
      .preferred(
        batch: batch, height: height, width: width, inputChannels: channels, outputChannels: weightShape[0]))
  }
}

/// 2-D convolution through the fastest algorithm for these shapes (`ConvolutionAlgorithm.preferred`): Winograd
/// (≈ 1e-5 relative error against direct fp32) with the weights transformed per call or streamed through the
/// products, im2col + GEMM (`conv2d`) otherwise. No transformed weight outlives the call.
///
/// Shapes as `conv2d`: `input` `[N, C, H, W]`, `weight` `[O, C, kH, kW]`, `bias` `[O]` or nil. With
/// `upsamplingInput` the image convolved is `upsampleNearest2x(input)` (`[N, C, 2H, 2W]`, diffusers' `Upsample2D`):
/// where F(6×6) Winograd would take the upsampled image, its sub-pixel form takes the stored one
/// (`conv2d3x3WinogradUpsampling`: measured on Zen 4, 2 threads, 256 channels 256² → 512² 0.42–0.44 s → 0.31–0.32
/// s, 512 channels 128² → 256² 0.37–0.39 → 0.31–0.33 s; at 64² → 128², where F(4×4) runs, it took 0.13 s against
/// 0.113); other Winograd paths read `input` as upsampled in their transform (`WinogradResampling.upsampledInput`),
/// so the 4× larger image is never stored; im2col convolves the upsampled copy. The same results within
/// Winograd's rounding. `residual` is added to the output as in
/// `conv2dPreferringWinograd(_:storedWeight:bias:stride:padding:upsamplingInput:adding:)`.
package func conv2dPreferringWinograd(
  _ input: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, upsamplingInput: Bool = false,
  adding residual: Tensor? = nil
) -> Tensor {
  let resampling: WinogradResampling = upsamplingInput ? .upsampledInput : .none
  switch ConvolutionAlgorithm.preferred(
    inputShape: convolvedImageShape(input, upsampling: upsamplingInput), weightShape: weight.shape, stride: stride,
    padding: padding)
  {
  case .im2col:
    return adding(
      residual,
      to: conv2d(
        upsamplingInput ? upsampleNearest2x(input) : input, weight: weight, bias: bias, stride: stride,
        padding: padding))
  case .winograd(let tile):
    if upsamplingInput && tile == .six {
      return adding(residual, to: conv2d3x3WinogradUpsampling(input, weight: weight, bias: bias))
    }
    return conv2d3x3Winograd(input, weight: weight, bias: bias, tile: tile, resampling: resampling, adding: residual)
  case .winogradStreamingWeights:
    return adding(
      residual,
      to: weight.withUnsafeBufferPointer { w in
        conv2d3x3WinogradStreamingWeights(
          input, weightShape: weight.shape, weight: .float32(w.baseAddress!), bias: bias, tile: .four,
          resampling: resampling)
      })
  }
}

/// `conv2dPreferringWinograd(_:weight:bias:stride:padding:upsamplingInput:)` with the weight as stored: one
/// stored at half width (IEEE half or bfloat16, in memory or mapped) is transformed or packed straight from its
/// bits on a TensorCore kernel family, never widened whole (`WinogradWeights(shape:halfPrecisionBits:isBFloat16:)`,
/// `conv2d(_:weightShape:halfPrecisionBits:…)`); other storage (float32, low-rank updates) and OpenBLAS widen it
/// first. Same results either way.
///
/// `residual` (the output's shape) is added to the output: inside the output transform of a per-call Winograd
/// convolution (`conv2d3x3Winograd(_:weights:bias:resampling:adding:maximumBlock:)`), with `Tensor.add` after the
/// other algorithms; the same bits either way.
package func conv2dPreferringWinograd(
  _ input: Tensor, storedWeight: StoredTensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
  upsamplingInput: Bool = false, adding residual: Tensor? = nil
) -> Tensor {
  let shape = storedWeight.shape
  let resampling: WinogradResampling = upsamplingInput ? .upsampledInput : .none
  if !GEMMPlan.current.usesBLAS,
    let result = storedWeight.withHalfPrecisionBits({ bits, isBFloat16 in
      switch ConvolutionAlgorithm.preferred(
        inputShape: convolvedImageShape(input, upsampling: upsamplingInput), weightShape: shape, stride: stride,
        padding: padding)
      {
      case .im2col:
        return adding(
          residual,
          to: conv2d(
            upsamplingInput ? upsampleNearest2x(input) : input, weightShape: shape, halfPrecisionBits: bits,
            isBFloat16: isBFloat16, bias: bias, stride: stride, padding: padding))
      case .winograd(let tile) where upsamplingInput && tile == .six:
        return adding(residual, to: conv2d3x3WinogradUpsampling(input, weight: storedWeight.tensor, bias: bias))
      case .winograd(let tile):
        do {
          let weights = try WinogradWeights(
            shape: shape, halfPrecisionBits: bits, isBFloat16: isBFloat16, tile: tile)
          return conv2d3x3Winograd(input, weights: weights, bias: bias, resampling: resampling, adding: residual)
        } catch {
          preconditionFailure("conv2dPreferringWinograd: \(error)")
        }
      case .winogradStreamingWeights:
        return adding(
          residual,
          to: conv2d3x3WinogradStreamingWeights(
            input, weightShape: shape, weight: .half(bits, isBFloat16: isBFloat16), bias: bias, tile: .four,
            resampling: resampling))
      }
    })
  {
    return result
  }
  return conv2dPreferringWinograd(
    input, weight: storedWeight.tensor, bias: bias, stride: stride, padding: padding,
    upsamplingInput: upsamplingInput, adding: residual)
}

/// `output` plus `residual` (`Tensor.add`), or `output` when there is none.
private func adding(_ residual: Tensor?, to output: Tensor) -> Tensor {
  guard let residual else { return output }
  var sum = output
  sum.add(residual)
  return sum
}

/// The shape of the image a convolution runs on: `input`'s, or with `upsampling` its nearest 2× upsampling's.
private func convolvedImageShape(_ input: Tensor, upsampling: Bool) -> [Int] {
  guard upsampling else { return input.shape }
  precondition(input.rank == 4, "conv2dPreferringWinograd: input \(input.shape) is not [N, C, H, W]")
  return [input.shape[0], input.shape[1], 2 * input.shape[2], 2 * input.shape[3]]
}
