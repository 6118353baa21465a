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
/// kernel, one F(7×7, 2×2) convolution whose `4·O` input channels are the phases of `∂Y`, read in place. Both run
/// in parts of `upsamplingGroup` output channels (the weight gradient one part at a time over all tiles, the input
/// gradient summing the parts per block). Per output, 64/49 multiplications against F(6×6)'s 64/36 on the
/// upsampled image, and no tensor at the upsampled size but `∂Y`.
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
  let tileCount = batch * (height / upsamplingTileSide + 1) * (width / upsamplingTileSide + 1)
  // The phase kernels' gradients ∂K = Gᵀ ∂U G, [4·O, C, 2, 2], and the product rows' bias sums, a group of output
  // channels at a time (`upsamplingGroup`), each pass transforming the input again (a quarter of the work of
  // F(6×6)'s transform of the upsampled image).
  let group = upsamplingGroup(outputs: outputs, channels: channels)
  var phaseGradients = [Float](unsafeUninitializedCapacity: 16 * outputs * channels) { $1 = $0.count }
  var biasSums = [Double]()
  input.withUnsafeBufferPointer { x in
    outputGradient.withUnsafeBufferPointer { dy in
      phaseGradients.withUnsafeMutableBufferPointer { phaseGradients in
        for first in stride(from: 0, to: outputs, by: group) {
          let rows = 4 * min(group, outputs - first)
          let (transformed, sums) = winogradWeightGradientSums(
            tileSide: upsamplingTileSide, points: upsamplingPoints, tileCount: tileCount, input: x.baseAddress!,
            inputRead: 0, outputGradient: dy.baseAddress! + first * 4 * height * width,
            outputGradientChannels: outputs, channels: channels, rows: rows, height: height, width: width,
            maximumBlock: maximumBlock)
          biasSums += sums
          let pairs = rows * channels
          nonisolated(unsafe) let result = phaseGradients.baseAddress! + 16 * first * channels
          transformed.withUnsafeBufferPointer { dU in
            parallelChunks(pairs, costPerItem: 200) { range in
              bld_winograd_weight_gradient_finish_f32(
                upsamplingTileSide, dU.baseAddress!, pairs, range.lowerBound, range.upperBound, result)
            }
          }
        }
      }
    }
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
    nonisolated(unsafe) let folded = out.baseAddress!
    phaseGradients.withUnsafeBufferPointer { phases in
      nonisolated(unsafe) let gradients = phases.baseAddress!
      parallelChunks(outputs, costPerItem: 64 * channels) { range in
        for o in range {
          for c in 0..<channels {
            let target = folded + (o * channels + c) * 9
            for k in 0..<9 { target[k] = 0 }
            for a in 0..<2 {
              for b in 0..<2 {
                let source = gradients + ((4 * o + 2 * a + b) * channels + c) * 4
                for r in 0..<2 {
                  for s in 0..<2 {
                    let gradient = source[2 * r + s]
                    for ky in upsamplingPhaseTaps(phase: a, tap: r) {
                      for kx in upsamplingPhaseTaps(phase: b, tap: s) { target[3 * ky + kx] += gradient }
                    }
                  }
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
/// (`bld_winograd_input_packed_f32` reads them in place, each phase's windows where that correlation needs them),
/// summed over parts of `upsamplingGroup` output channels (`WinogradPartition.channels`), image by image.
private func upsamplingInputGradient(
  _ outputGradient: Tensor, weight: Tensor, inputShape: [Int], maximumBlock: Int?
) -> Tensor {
  let (batch, channels, height, width) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
  let outputs = weight.shape[0]
  let plan = GEMMPlan.current
  let phaseKernels = upsamplingPhaseKernels(weight)
  let group = upsamplingGroup(outputs: outputs, channels: channels)
  let firsts = Array(stride(from: 0, to: outputs, by: group))
  let shapes = firsts.map { (rows: channels, channels: 4 * min(group, outputs - $0), outputs: channels) }
  // Part p's flipped phase kernels as a [C, 4·g, 2, 2] weight: row c, column 4 (o − first) + phase.
  func flippedKernels(part: Int) -> [Float] {
    let (first, columns) = (firsts[part], shapes[part].channels)
    return [Float](unsafeUninitializedCapacity: 4 * columns * channels) { buffer, initialized in
      for c in 0..<channels {
        for column in 0..<columns {
          let (source, target) = (((4 * first + column) * channels + c) * 4, (c * columns + column) * 4)
          for k in 0..<4 { buffer[target + k] = phaseKernels[source + 3 - k] }
        }
      }
      initialized = 4 * columns * channels
    }
  }
  let tileCount = (height / upsamplingTileSide + 1) * (width / upsamplingTileSide + 1)
  let (_, blockSize, vStride, mStride) = winogradBlocks(
    tileCount: tileCount, points: upsamplingPoints, channels: 4 * group, outputs: channels,
    weights: 4 * outputs * channels, maximumBlock: maximumBlock)
  let (gradientPlane, inputPlane) = (4 * height * width, height * width)
  return withTransformedUpsamplingParts(shapes, kernels: flippedKernels) { parts in
    Tensor(shape: inputShape) { out in
      outputGradient.withUnsafeBufferPointer { dy in
        // One image at a time: a part's phases are some of ∂Y's channels, read from their first.
        for image in 0..<batch {
          convolveWinogradBlocks(
            plan: plan, points: upsamplingPoints, parts: parts, partition: .channels, tileCount: tileCount,
            blockSize: blockSize, vStride: vStride, mStride: mStride,
            transformInput: { tiles, part, range, v in
              withUnsafePointer(to: plan.raw) { raw in
                bld_winograd_input_packed_f32(
                  raw, upsamplingTileSide, dy.baseAddress! + (image * outputs + firsts[part]) * gradientPlane,
                  shapes[part].channels, height, width, 2, tiles.lowerBound, tiles.upperBound, range.lowerBound,
                  range.upperBound, v, vStride)
              }
            },
            transformOutput: { tiles, _, range, m in
              bld_winograd_output_f32(
                upsamplingTileSide, m, channels, height, width, 0, tiles.lowerBound, tiles.upperBound, nil, nil,
                range.lowerBound, range.upperBound, out.baseAddress! + image * channels * inputPlane, mStride)
            })
        }
      }
    }
  }
}
