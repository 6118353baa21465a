internal import CTensorKernels

/// The weight gradient of a 3×3, stride-1, padding-1 convolution through Winograd F(m×m, 3×3), m = `tile.side`.
///
/// `outputGradient`: `[N, O, H, W]`, `input`: `[N, C, H, W]` → `∂L/∂W`, `[O, C, 3, 3]`. The forward's
/// `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A` per tile has the adjoint `∂U[ξ] = Σ_tiles (A ∂Y Aᵀ)[ξ] · (Bᵀ d B)[ξ]ᵀ`,
/// `∂g = Gᵀ ∂U G`: per block of tiles, the input and the output gradient are transformed and `tile.pointCount`
/// `O × C` GEMMs (reduction over the block's tiles) accumulate `∂U`; 4× (F(4×4)) or 5× (F(6×6)) fewer
/// multiplications than im2col's `∂Y · colᵀ`. Accuracy as the Winograd forward (≈ 1e-5 relative). Requires a
/// TensorCore GEMM family (`conv2d3x3WinogradIsPreferred`); scratch per block stays below
/// `winogradWorkspaceLimit` floats, plus `tile.pointCount·O·C` floats for `∂U`. `maximumBlock` caps the tiles
/// per block below `winogradBlocks`' choice (tests use it to cover several blocks and several GEMM K blocks on
/// any CPU).
package func conv2d3x3WinogradWeightGradient(
  outputGradient: Tensor, input: Tensor, tile: WinogradTile, maximumBlock: Int? = nil
) -> Tensor {
  let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let outputs = outputGradient.shape[1]
  precondition(
    outputGradient.shape == [batch, outputs, height, width],
    "conv2d3x3WinogradWeightGradient: gradient \(outputGradient.shape), input \(input.shape)")
  let (tileCount, blockSize, _, _) = winogradBlocks(
    tile: tile, batch: batch, height: height, width: width, channels: channels, outputs: outputs,
    maximumBlock: maximumBlock)
  let points = tile.pointCount
  // ∂U[ξ], O × C each: the first block's products set it (beta 0), later blocks add to it; zero for no tiles.
  var transformed =
    tileCount == 0
    ? [Float](repeating: 0, count: points * outputs * channels)
    : [Float](unsafeUninitializedCapacity: points * outputs * channels) { $1 = $0.count }
  let plan = GEMMPlan.current
  precondition(!plan.usesBLAS, "conv2d3x3WinogradWeightGradient needs a TensorCore kernel family")
  // Both operands are written packed by the transforms: ∂M[ξ] in MR-row panels of the output channels (groups of
  // whole panels), V[ξ]ᵀ in NR-column panels of the input channels (NR is a multiple of 16, the groups' width).
  let paddedOutputs = (outputs + plan.tileRows - 1) / plan.tileRows * plan.tileRows
  let paddedChannels = (channels + plan.tileColumns - 1) / plan.tileColumns * plan.tileColumns
  let (vStride, mStride) = (blockSize * paddedChannels + 16, paddedOutputs * blockSize + 16)
  let outputGroupChannels = withUnsafePointer(to: plan.raw) { bld_winograd_output_gradient_group_channels($0) }
  let (inputGroups, outputGroups) = (paddedChannels / 16, (outputs + outputGroupChannels - 1) / outputGroupChannels)
  input.withUnsafeBufferPointer { x in
    outputGradient.withUnsafeBufferPointer { dy in
      transformed.withUnsafeMutableBufferPointer { dU in
        ReusableScratch.winograd.withBuffer(floats: points * (vStride + mStride)) { workspace in
          nonisolated(unsafe) let (v, m, u) = (workspace, workspace + points * vStride, dU.baseAddress!)
          var tileBegin = 0
          while tileBegin < tileCount {
            let tileEnd = min(tileCount, tileBegin + blockSize)
            let block = tileEnd - tileBegin
            parallelChunks(inputGroups, costPerItem: block * 64 * points) { groups in
              GEMMScratchPool.shared.withScratch { scratch in
                withUnsafePointer(to: plan.raw) { raw in
                  bld_winograd_input_transposed_packed_f32(
                    raw, tile.side, x.baseAddress!, channels, height, width, tileBegin, tileEnd, groups.lowerBound,
                    groups.upperBound, v, vStride, scratch)
                }
              }
            }
            parallelChunks(outputGroups, costPerItem: block * 64 * points) { groups in
              GEMMScratchPool.shared.withScratch { scratch in
                withUnsafePointer(to: plan.raw) { raw in
                  bld_winograd_output_gradient_packed_f32(
                    raw, tile.side, dy.baseAddress!, outputs, height, width, tileBegin, tileEnd, groups.lowerBound,
                    groups.upperBound, m, mStride, scratch)
                }
              }
            }
            // ∂U[ξ] (O × C) (+)= ∂M[ξ] (O × block) · V[ξ]ᵀ (block × C): one thread per group of points.
            parallelChunks(points, costPerItem: outputs * channels * block) { range in
              for point in range {
                prepackedProductSingleThreaded(
                  plan: plan, packedA: m + point * mStride, packedB: v + point * vStride, m: outputs, n: channels,
                  k: block, c: u + point * outputs * channels, ldc: channels, beta: tileBegin == 0 ? 0 : 1)
              }
            }
            tileBegin = tileEnd
          }
        }
      }
    }
  }
  // ∂g = Gᵀ ∂U G per (o, c).
  let pairs = outputs * channels
  return Tensor(shape: [outputs, channels, 3, 3]) { out in
    transformed.withUnsafeBufferPointer { dU in
      nonisolated(unsafe) let result = out.baseAddress!
      parallelChunks(pairs, costPerItem: 200) { range in
        bld_winograd_weight_gradient_finish_f32(
          tile.side, dU.baseAddress!, pairs, range.lowerBound, range.upperBound, result)
      }
    }
  }
}
