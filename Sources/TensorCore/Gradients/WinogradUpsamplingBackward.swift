internal import CTensorKernels

/// The gradients of an upsampler's convolution in its sub-pixel form (`conv2d3x3WinogradUpsampling`): the
/// gradients of convolving `upsampleNearest2x(input)` with `weight` (3×3, stride 1, padding 1), computed on the
/// stored image through Winograd F(7×7, 2×2).
///
/// `outputGradient`: `[N, O, 2H, 2W]`, `input`: `[N, C, H, W]`, `weight`: `[O, C, 3, 3]` → `∂L/∂W` `[O, C, 3, 3]`,
/// `∂L/∂b` `[O]` and, with `computeInputGradient`, `∂L/∂input` `[N, C, H, W]`.
///
/// The weight gradient sums, per transform point, the transformed output gradient of each phase (`A ∂Y Aᵀ` over
/// the 7×7 outputs a tile gives of that phase, `winogradWeightGradientSums`) times the stored image's transformed
/// windows: the four phase kernels' gradients (`Gᵀ ∂U G`, 2×2 each), folded back onto the 3×3 taps they sum. The
/// input gradient is the sum over the phases of each phase's output gradient correlated with its flipped phase
/// kernel, one F(7×7, 2×2) convolution whose `4·O` input channels are the phases of `∂Y`, read in place. Per
/// output, 64/49 multiplications against F(6×6)'s 64/36 on the upsampled image, and no tensor at the upsampled
/// size but `∂Y`.
///
/// Accuracy as the forward (≈ 1e-5 relative). Needs a TensorCore kernel family. `maximumBlock` caps the tiles
/// per block (tests use it to cover several blocks and accumulators).
package func conv2d3x3WinogradUpsamplingBackward(
  outputGradient: Tensor, input: Tensor, weight: Tensor, computeInputGradient: Bool = true, maximumBlock: Int? = nil
) -> Conv2DGradients {
  precondition(input.rank == 4, "conv2d3x3WinogradUpsamplingBackward: input \(input.shape) is not [N, C, H, W]")
  let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let outputs = weight.shape[0]
  precondition(
    outputGradient.shape == [batch, outputs, 2 * height, 2 * width] && weight.shape == [outputs, channels, 3, 3],
    "conv2d3x3WinogradUpsamplingBackward: gradient \(outputGradient.shape), input \(input.shape), weight \(weight.shape)"
  )
  precondition(!GEMMPlan.current.usesBLAS, "conv2d3x3WinogradUpsamplingBackward needs a TensorCore kernel family")
  let rows = 4 * outputs
  let tileCount = batch * (height / upsamplingTileSide + 1) * (width / upsamplingTileSide + 1)
  let (transformed, biasSums) = input.withUnsafeBufferPointer { x in
    outputGradient.withUnsafeBufferPointer { dy in
      winogradWeightGradientSums(
        tileSide: upsamplingTileSide, points: upsamplingPoints, tileCount: tileCount, input: x.baseAddress!,
        inputRead: 0, outputGradient: dy.baseAddress!, channels: channels, rows: rows, height: height, width: width,
        maximumBlock: maximumBlock)
    }
  }
  // ∂K = Gᵀ ∂U G per (product row, input channel): the phase kernels' gradients, [4·O, C, 2, 2].
  let pairs = rows * channels
  let phaseGradients = [Float](unsafeUninitializedCapacity: 4 * pairs) { buffer, initialized in
    transformed.withUnsafeBufferPointer { dU in
      nonisolated(unsafe) let result = buffer.baseAddress!
      parallelChunks(pairs, costPerItem: 200) { range in
        bld_winograd_weight_gradient_finish_f32(
          upsamplingTileSide, dU.baseAddress!, pairs, range.lowerBound, range.upperBound, result)
      }
    }
    initialized = 4 * pairs
  }
  let bias = (0..<outputs).map { o in Float((0..<4).reduce(0.0) { $0 + biasSums[4 * o + $1] }) }
  let inputGradient =
    computeInputGradient
    ? upsamplingInputGradient(outputGradient, weight: weight, inputShape: input.shape, maximumBlock: maximumBlock)
    : nil
  return Conv2DGradients(
    input: inputGradient, weight: foldedUpsamplingKernelGradient(phaseGradients, outputs: outputs, channels: channels),
    bias: Tensor(shape: [outputs], scalars: bias))
}

/// `∂L/∂W` `[O, C, 3, 3]` from the phase kernels' gradients (`[4·O, C, 2, 2]`, rows as `upsamplingPhaseKernels`):
/// each 3×3 tap gets the gradients of the phase taps it is summed into (the adjoint of `upsamplingPhaseKernels`).
private func foldedUpsamplingKernelGradient(_ phaseGradients: [Float], outputs: Int, channels: Int) -> Tensor {
  Tensor(shape: [outputs, channels, 3, 3]) { out in
    for o in 0..<outputs {
      for c in 0..<channels {
        let target = (o * channels + c) * 9
        for k in 0..<9 { out[target + k] = 0 }
        for a in 0..<2 {
          for b in 0..<2 {
            let source = ((4 * o + 2 * a + b) * channels + c) * 4
            for r in 0..<2 {
              for s in 0..<2 {
                let gradient = phaseGradients[source + 2 * r + s]
                for ky in upsamplingPhaseTaps[a][r] {
                  for kx in upsamplingPhaseTaps[b][s] { out[target + 3 * ky + kx] += gradient }
                }
              }
            }
          }
        }
      }
    }
  }
}

/// `∂L/∂input` `[N, C, H, W]` (`inputShape`) of an upsampler's convolution: `Σ_p` phase `p` of `∂Y` correlated with
/// phase kernel `p` flipped, as one F(7×7, 2×2) convolution with the `4·O` phases of `∂Y` as its input channels
/// (`bld_winograd_input_packed_f32` reads them in place, each phase's windows where that correlation needs them).
private func upsamplingInputGradient(
  _ outputGradient: Tensor, weight: Tensor, inputShape: [Int], maximumBlock: Int?
) -> Tensor {
  let (batch, channels, height, width) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
  let rows = 4 * weight.shape[0]
  let plan = GEMMPlan.current
  // The flipped phase kernels as a [C, 4·O, 2, 2] weight: row c, column 4 o + p.
  let phaseKernels = upsamplingPhaseKernels(weight)
  let flipped = [Float](unsafeUninitializedCapacity: 4 * rows * channels) { buffer, initialized in
    for row in 0..<rows {
      for c in 0..<channels {
        let (source, target) = ((row * channels + c) * 4, (c * rows + row) * 4)
        for k in 0..<4 { buffer[target + k] = phaseKernels[source + 3 - k] }
      }
    }
    initialized = 4 * rows * channels
  }
  let pointStride = plan.packedLeftFloats(m: channels, k: rows)
  let transformed = [Float](unsafeUninitializedCapacity: upsamplingPoints * pointStride) { buffer, initialized in
    flipped.withUnsafeBufferPointer { k in
      nonisolated(unsafe) let destination = buffer.baseAddress!
      parallelChunks(
        (channels + plan.tileRows - 1) / plan.tileRows, costPerItem: plan.tileRows * rows * 4 * upsamplingPoints
      ) { range in
        withUnsafePointer(to: plan.raw) { raw in
          bld_winograd_weights_packed_f32(
            raw, upsamplingTileSide, k.baseAddress!, channels, rows, range.lowerBound, range.upperBound, destination,
            pointStride)
        }
      }
    }
    initialized = upsamplingPoints * pointStride
  }
  let tileCount = batch * (height / upsamplingTileSide + 1) * (width / upsamplingTileSide + 1)
  let (_, blockSize, vStride, mStride) = winogradBlocks(
    tileCount: tileCount, points: upsamplingPoints, channels: rows, outputs: channels, maximumBlock: maximumBlock)
  return Tensor(shape: inputShape) { out in
    outputGradient.withUnsafeBufferPointer { dy in
      transformed.withUnsafeBufferPointer { u in
        convolveWinogradBlocks(
          plan: plan, points: upsamplingPoints, u: u.baseAddress!, uStride: pointStride, channels: rows,
          rows: channels, outputChannels: channels, tileCount: tileCount, blockSize: blockSize, vStride: vStride,
          mStride: mStride,
          transformInput: { tiles, range, v in
            withUnsafePointer(to: plan.raw) { raw in
              bld_winograd_input_packed_f32(
                raw, upsamplingTileSide, dy.baseAddress!, rows, height, width, 2, tiles.lowerBound, tiles.upperBound,
                range.lowerBound, range.upperBound, v, vStride)
            }
          },
          transformOutput: { tiles, range, m in
            bld_winograd_output_f32(
              upsamplingTileSide, m, channels, height, width, 0, tiles.lowerBound, tiles.upperBound, nil,
              range.lowerBound, range.upperBound, out.baseAddress!, mStride)
          })
      }
    }
  }
}
