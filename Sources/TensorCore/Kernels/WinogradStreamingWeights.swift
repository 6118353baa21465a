internal import CTensorKernels

/// A 3×3 convolution weight as a streaming Winograd convolution reads it: fp32 values, or half-width bits
/// (IEEE half or bfloat16) widened block by block as the products need them.
package enum WinogradWeightSource {
  /// `[O, C, 3, 3]` fp32 values.
  case float32(UnsafePointer<Float>)
  /// `[O, C, 3, 3]` IEEE half (`isBFloat16` false) or bfloat16 bits.
  case half(UnsafePointer<UInt16>, isBFloat16: Bool)
}

/// 3×3 convolution with stride 1 and padding 1 through Winograd F(m×m, 3×3) with the weights transformed inside
/// the products (`bld_winograd_products_streaming_weights`): each row panel of output channels is transformed
/// one K block at a time into a cache-sized buffer that every transform point's product uses at once, so the
/// transformed weights (4–7× the weight) are never written to memory. For small images, where each transformed
/// weight serves only a few dozen tiles and writing and re-reading all of them would cost more than the
/// products (`ConvolutionAlgorithm.preferred`).
///
/// `input` `[N, C, H, W]`, `weight` `[O, C, 3, 3]` (`weightShape`), `bias` `[O]` or nil → `[N, O, H, W]`; the same
/// results as `conv2d3x3Winograd(_:weights:bias:)` with weights transformed for the same tile, bit for bit.
/// Needs a TensorCore kernel family (not OpenBLAS). Holds the transformed input and the products of every tile at
/// once (`(m + 2)²·(C + O)·T` floats for `T` tiles), which `ConvolutionAlgorithm.preferred` keeps within the L3 share.
/// `resampling` as for `conv2d3x3Winograd(_:weights:bias:resampling:adding:maximumBlock:)`.
package func conv2d3x3WinogradStreamingWeights(
  _ input: Tensor, weightShape: [Int], weight: WinogradWeightSource, bias: Tensor?, tile: WinogradTile,
  resampling: WinogradResampling = .none
) -> Tensor {
  let plan = GEMMPlan.current
  precondition(!plan.usesBLAS, "conv2d3x3WinogradStreamingWeights needs a TensorCore kernel family")
  precondition(
    input.rank == 4 && weightShape.count == 4 && weightShape[1] == input.shape[1] && weightShape[2] == 3
      && weightShape[3] == 3, "conv2d3x3WinogradStreamingWeights: input \(input.shape), weight \(weightShape)")
  let (batch, channels) = (input.shape[0], input.shape[1])
  let (height, width) = resampling.imageSize(inputHeight: input.shape[2], inputWidth: input.shape[3])
  precondition(
    resampling != .summedOutput || (height % 2 == 0 && width % 2 == 0),
    "conv2d3x3WinogradStreamingWeights: summing 2×2 output blocks needs an even height and width, got \(input.shape)")
  let outputs = weightShape[0]
  if let bias { precondition(bias.shape == [outputs], "conv2d3x3WinogradStreamingWeights: bias \(bias.shape)") }
  let outputShape = resampling.outputShape(batch: batch, outputs: outputs, height: height, width: width)
  let (upsampled, summed): (Int32, Int32) = (resampling == .upsampledInput ? 1 : 0, resampling == .summedOutput ? 1 : 0)
  guard batch > 0 && height > 0 && width > 0 && outputs > 0 else { return Tensor(shape: outputShape) }
  let tiles = tile.tileCount(batch: batch, height: height, width: width)
  let points = tile.pointCount
  let vStride = channels * ((tiles + plan.tileColumns - 1) / plan.tileColumns * plan.tileColumns) + 16
  let mStride = outputs * tiles + 16
  let panels = (outputs + plan.tileRows - 1) / plan.tileRows
  let (stagingFloats, blockFloats) = withUnsafePointer(to: plan.raw) { raw in
    (
      bld_winograd_streaming_staging_floats(raw, channels),
      bld_winograd_streaming_block_floats(raw, tile.side, channels)
    )
  }
  precondition(
    stagingFloats + blockFloats <= GEMMScratchPool.shared.floatCount,
    "conv2d3x3WinogradStreamingWeights: \(stagingFloats + blockFloats) floats of staging exceed a GEMM scratch buffer")
  return Tensor(shape: outputShape) { out in
    input.withUnsafeBufferPointer { x in
      ReusableScratch.winograd.withBuffer(floats: points * (vStride + mStride)) { workspace in
        nonisolated(unsafe) let (v, m) = (workspace, workspace + points * vStride)
        parallelChunks(channels, costPerItem: tiles * 4 * points) { range in
          withUnsafePointer(to: plan.raw) { raw in
            bld_winograd_input_packed_f32(
              raw, tile.side, x.baseAddress!, channels, height, width, upsampled, 0, tiles, range.lowerBound,
              range.upperBound, v, vStride)
          }
        }
        parallelChunks(panels, costPerItem: plan.tileRows * channels * tiles * points) { range in
          // Two pooled buffers: the products' own scratch, and the staged taps with the transformed block.
          GEMMScratchPool.shared.withScratch { scratch in
            GEMMScratchPool.shared.withScratch { staging in
              withUnsafePointer(to: plan.raw) { raw in
                let (float32, half, isBFloat16): (UnsafePointer<Float>?, UnsafePointer<UInt16>?, Bool) =
                  switch weight {
                  case .float32(let values): (values, nil, false)
                  case .half(let bits, let isBFloat16): (nil, bits, isBFloat16)
                  }
                bld_winograd_products_streaming_weights(
                  raw, tile.side, float32, half, isBFloat16 ? 1 : 0, outputs, channels, tiles, v, vStride,
                  range.lowerBound, range.upperBound, m, mStride, staging, staging + stagingFloats, scratch)
              }
            }
          }
        }
        bias.withUnsafeBufferPointer { b in
          nonisolated(unsafe) let output = out.baseAddress!
          parallelChunks(outputs, costPerItem: tiles * 4 * points) { range in
            bld_winograd_output_f32(
              tile.side, m, outputs, height, width, summed, 0, tiles, b?.baseAddress, nil, range.lowerBound,
              range.upperBound, output, mStride)
          }
        }
      }
    }
  }
}
