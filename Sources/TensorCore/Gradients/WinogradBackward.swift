internal import CTensorKernels

/// The gradients of a 3×3, stride-1, padding-1 convolution through Winograd F(m×m, 3×3), m = `tile.side`.
///
/// `outputGradient`: `[N, O, H, W]`, `input`: `[N, C, H, W]`, `weight`: `[O, C, 3, 3]` → `∂L/∂W` `[O, C, 3, 3]`,
/// `∂L/∂b` `[O]` and, with `computeInputGradient`, `∂L/∂x` `[N, C, H, W]`. The forward's
/// `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A` per tile has the adjoint `∂U[ξ] = Σ_tiles (A ∂Y Aᵀ)[ξ] · (Bᵀ d B)[ξ]ᵀ`,
/// `∂g = Gᵀ ∂U G` in the weights: per block of tiles, the input and the output gradient are transformed and
/// `tile.pointCount` `O × C` GEMMs (reduction over the block's tiles) accumulate `∂U`, 4× (F(4×4)) or 5× (F(6×6))
/// fewer multiplications than im2col's `∂Y · colᵀ`. The bias gradient `Σ ∂Y` is `A ∂Y Aᵀ` at the point (1, 1)
/// summed over the tiles, taken as the transform runs (no pass of its own over `∂Y`). The input gradient is the
/// Winograd convolution of `∂Y` with the flipped, transposed kernel (`W'[c, o, kh, kw] = W[o, c, 2 − kh,
/// 2 − kw]`), same tile. (Taking it instead as the adjoint of the forward's transforms, `∂V[ξ] = U[ξ]ᵀ ∂M[ξ]` and
/// `B ∂V Bᵀ` summed over the overlapping windows, shares `∂M` with the weight gradient but measured 4–8 % slower
/// for the whole backward on Zen 4: the second packing of `∂M`, the overlap adds and the doubled scratch per block
/// cost more than the transform of `∂Y` they save; Decision 0032.)
///
/// Accuracy as the Winograd forward (≈ 1e-5 relative). Requires a TensorCore GEMM family
/// (`conv2d3x3WinogradIsPreferred`); scratch per block stays below `winogradWorkspaceLimit` floats, plus
/// `tile.pointCount·O·C` floats for `∂U`. When the threads take whole blocks (`winogradBlocksAreThreadLocal`),
/// each has a block of scratch and, within `winogradGradientAccumulatorBudget`, a `∂U` of its own, summed at the
/// end; each accumulator always takes the same run of blocks, so results never depend on timing (they differ
/// from a one-thread run's in the order of the sums only). `maximumBlock` caps the tiles per block below
/// `winogradBlocks`' choice (tests use it to cover several blocks and several GEMM K blocks on any CPU), for the
/// input gradient's convolution too.
///
/// `inputUpsampled`: the convolution ran on the nearest 2× upsampling of `input` (`[N, C, H/2, W/2]`,
/// `WinogradResampling.upsampledInput`, an upsampler's): the weight gradient's transform reads `input` as
/// upsampled, and the input gradient, `[N, C, H/2, W/2]`, sums each 2×2 block as its output transform writes it
/// (`.summedOutput`) — the gradients of convolving `upsampleNearest2x(input)`, bit for bit, with no tensor at the
/// upsampled size but `∂Y`.
package func conv2d3x3WinogradBackward(
  outputGradient: Tensor, input: Tensor, weight: Tensor, tile: WinogradTile, computeInputGradient: Bool = true,
  inputUpsampled: Bool = false, maximumBlock: Int? = nil
) -> Conv2DGradients {
  let scale = inputUpsampled ? 2 : 1
  let (batch, channels, height, width) = (
    input.shape[0], input.shape[1], scale * input.shape[2], scale * input.shape[3]
  )
  let outputs = outputGradient.shape[1]
  precondition(
    outputGradient.shape == [batch, outputs, height, width] && weight.shape == [outputs, channels, 3, 3],
    "conv2d3x3WinogradBackward: gradient \(outputGradient.shape), input \(input.shape), weight \(weight.shape)")
  precondition(!GEMMPlan.current.usesBLAS, "conv2d3x3WinogradBackward needs a TensorCore kernel family")
  let (transformed, biasSums) = input.withUnsafeBufferPointer { x in
    outputGradient.withUnsafeBufferPointer { dy in
      winogradWeightGradientSums(
        tileSide: tile.side, points: tile.pointCount,
        tileCount: tile.tileCount(batch: batch, height: height, width: width), input: x.baseAddress!,
        inputRead: inputUpsampled ? 1 : 0, outputGradient: dy.baseAddress!, outputGradientChannels: outputs,
        channels: channels, rows: outputs, height: height, width: width, maximumBlock: maximumBlock)
    }
  }
  // ∂g = Gᵀ ∂U G per (o, c).
  let pairs = outputs * channels
  let weightGradient = Tensor(shape: [outputs, channels, 3, 3]) { out in
    transformed.withUnsafeBufferPointer { dU in
      nonisolated(unsafe) let result = out.baseAddress!
      parallelChunks(pairs, costPerItem: 200) { range in
        bld_winograd_weight_gradient_finish_f32(
          tile.side, dU.baseAddress!, pairs, range.lowerBound, range.upperBound, result)
      }
    }
  }
  let inputGradient =
    computeInputGradient
    ? conv2d3x3Winograd(
      outputGradient, weight: flippedTransposedKernel(weight), bias: nil, tile: tile,
      resampling: inputUpsampled ? .summedOutput : .none, maximumBlock: maximumBlock) : nil
  return Conv2DGradients(
    input: inputGradient, weight: weightGradient,
    bias: Tensor(shape: [outputs], scalars: biasSums[0..<outputs].map { Float($0) }))
}

/// The weight-gradient sums of a Winograd convolution's tiles: `∂U[ξ] = Σ_tiles ∂M[ξ]·V[ξ]ᵀ` (`rows × channels` per
/// transform point, `[points][rows · channels]`) and each product row's bias sum `Σ ∂Y`, in double.
///
/// Per block of tiles (`winogradBlocks`), `bld_winograd_input_transposed_packed_f32` transforms `input`
/// (`[N, C, H, W]` read as `inputRead` says) and `bld_winograd_output_gradient_packed_f32` the output gradient
/// (`outputGradientChannels` channels per image: the product rows are all or some of them), both with `tileSide`
/// (the tiles and their `tileCount` as those functions number them), and `points` `rows × C` GEMMs reduce over the
/// block's tiles. When the threads take whole blocks (`winogradBlocksAreThreadLocal`), each
/// has a block of scratch and, within `winogradGradientAccumulatorBudget`, a `∂U` of its own, summed at the end;
/// each accumulator always takes the same run of blocks, so results never depend on timing.
func winogradWeightGradientSums(
  tileSide: Int, points: Int, tileCount: Int, input: UnsafePointer<Float>, inputRead: Int32,
  outputGradient: UnsafePointer<Float>, outputGradientChannels: Int, channels: Int, rows: Int, height: Int,
  width: Int, maximumBlock: Int?
) -> (transformed: [Float], biasSums: [Double]) {
  let (_, blockSize, _, _) = winogradBlocks(
    tileCount: tileCount, points: points, channels: channels, outputs: rows, maximumBlock: maximumBlock)
  let plan = GEMMPlan.current
  let blockCount = (tileCount + blockSize - 1) / blockSize
  let accumulatorFloats = points * rows * channels
  // Both operands are written packed by the transforms: ∂M[ξ] in MR-row panels of the product rows (groups of
  // whole panels), V[ξ]ᵀ in NR-column panels of the input channels (NR is a multiple of 16, the groups' width).
  let paddedRows = (rows + plan.tileRows - 1) / plan.tileRows * plan.tileRows
  let paddedChannels = (channels + plan.tileColumns - 1) / plan.tileColumns * plan.tileColumns
  let (vStride, mStride) = (blockSize * paddedChannels + 16, paddedRows * blockSize + 16)
  let workspaceFloats = points * (vStride + mStride)
  // Threads taking whole blocks each sum into an accumulator of their own (`winogradBlocksAreThreadLocal`),
  // when those fit `winogradGradientAccumulatorBudget`.
  let accumulatorCount =
    winogradBlocksAreThreadLocal(blockCount: blockCount, blockFloats: workspaceFloats, plan: plan)
      && ComputeOptions.threadCount * accumulatorFloats * MemoryLayout<Float>.size
        <= winogradGradientAccumulatorBudget
    ? ComputeOptions.threadCount : 1
  // ∂U[ξ], rows × C each, per accumulator: an accumulator's first block sets it (beta 0), later blocks add to it.
  var transformed = [Float](unsafeUninitializedCapacity: accumulatorCount * accumulatorFloats) { $1 = $0.count }
  var biasSums = [Double](repeating: 0, count: accumulatorCount * rows)
  let outputGroupChannels = withUnsafePointer(to: plan.raw) { bld_winograd_output_gradient_group_channels($0) }
  let (inputGroups, outputGroups) = (paddedChannels / 16, (rows + outputGroupChannels - 1) / outputGroupChannels)
  transformed.withUnsafeMutableBufferPointer { dU in
    biasSums.withUnsafeMutableBufferPointer { biasSums in
      // Adds one block's products to accumulator `slot` (setting it when `first`), each stage split across the
      // threads (`split`) or all on the calling thread.
      func accumulate(block: Int, slot: Int, first: Bool, workspace: UnsafeMutablePointer<Float>, split: Bool) {
        let (tileBegin, tileEnd) = (block * blockSize, min(tileCount, (block + 1) * blockSize))
        let tiles = tileEnd - tileBegin
        let (v, m) = (workspace, workspace + points * vStride)
        let (u, bias) = (dU.baseAddress! + slot * accumulatorFloats, biasSums.baseAddress! + slot * rows)
        forEachPart(inputGroups, costPerItem: tiles * 64 * points, split: split) { groups in
          GEMMScratchPool.shared.withScratch { scratch in
            withUnsafePointer(to: plan.raw) { raw in
              bld_winograd_input_transposed_packed_f32(
                raw, tileSide, input, channels, height, width, inputRead, tileBegin, tileEnd, groups.lowerBound,
                groups.upperBound, v, vStride, scratch)
            }
          }
        }
        forEachPart(outputGroups, costPerItem: tiles * 64 * points, split: split) { groups in
          GEMMScratchPool.shared.withScratch { scratch in
            withUnsafePointer(to: plan.raw) { raw in
              bld_winograd_output_gradient_packed_f32(
                raw, tileSide, outputGradient, rows, outputGradientChannels, height, width, tileBegin, tileEnd,
                groups.lowerBound, groups.upperBound, m, mStride, bias, scratch)
            }
          }
        }
        // ∂U[ξ] (rows × C) (+)= ∂M[ξ] (rows × block) · V[ξ]ᵀ (block × C): one thread per group of points.
        forEachPart(points, costPerItem: rows * channels * tiles, split: split) { range in
          for point in range {
            prepackedProductSingleThreaded(
              plan: plan, packedA: m + point * mStride, packedB: v + point * vStride, m: rows, n: channels,
              k: tiles, c: u + point * rows * channels, ldc: channels, beta: first ? 0 : 1)
          }
        }
      }
      if accumulatorCount > 1 {
        // Accumulator `slot` always sums the same run of blocks, in order, whichever thread takes it, so the
        // result does not depend on timing.
        let firstBlocks = (0...accumulatorCount).map {
          pieceStart($0, of: accumulatorCount, count: blockCount, threads: accumulatorCount)
        }
        parallelChunks(blockCount, costPerItem: blockSize * rows * channels, maximumPieces: accumulatorCount) {
          blocks in
          ReusableScratch.winograd.withBuffer(floats: workspaceFloats) { workspace in
            for slot in 0..<accumulatorCount {
              let slotBlocks = firstBlocks[slot]..<firstBlocks[slot + 1]
              for block in slotBlocks.clamped(to: blocks) {
                accumulate(
                  block: block, slot: slot, first: block == slotBlocks.lowerBound, workspace: workspace, split: false)
              }
            }
          }
        }
      } else {
        ReusableScratch.winograd.withBuffer(floats: workspaceFloats) { workspace in
          for block in 0..<blockCount {
            accumulate(block: block, slot: 0, first: block == 0, workspace: workspace, split: true)
          }
        }
      }
      // Σ over the accumulators into the first, in slot order; zero when there are no tiles.
      nonisolated(unsafe) let sums = dU.baseAddress!
      if blockCount == 0 {
        sums.initialize(repeating: 0, count: accumulatorFloats)
      } else if accumulatorCount > 1 {
        parallelChunks(accumulatorFloats, costPerItem: accumulatorCount) { range in
          for slot in 1..<accumulatorCount {
            let added = sums + slot * accumulatorFloats
            for index in range { sums[index] += added[index] }
          }
        }
      }
      for slot in 1..<accumulatorCount {
        for row in 0..<rows { biasSums[row] += biasSums[slot * rows + row] }
      }
    }
  }
  transformed.removeLast(transformed.count - accumulatorFloats)
  return (transformed, Array(biasSums[0..<rows]))
}

/// The most bytes of per-thread weight-gradient accumulators (`tile.pointCount·O·C` floats each) a Winograd
/// backward allocates to let each thread take whole blocks of tiles (`winogradBlocksAreThreadLocal`, which already
/// limits them to layers whose blocks fit the cache: 4 MB per thread at 128 channels with F(6×6)); beyond it, on
/// machines with many threads, the threads share each block's stages and one accumulator.
let winogradGradientAccumulatorBudget = 256 << 20
