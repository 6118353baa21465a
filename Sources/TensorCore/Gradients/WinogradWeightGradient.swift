internal import CTensorKernels

/// The weight gradient of a 3×3, stride-1, padding-1 convolution through Winograd F(m×m, 3×3), m = `tile.side`.
///
/// `outputGradient`: `[N, O, H, W]`, `input`: `[N, C, H, W]` → `∂L/∂W`, `[O, C, 3, 3]`. The forward's
/// `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A` per tile has the adjoint `∂U[ξ] = Σ_tiles (A ∂Y Aᵀ)[ξ] · (Bᵀ d B)[ξ]ᵀ`,
/// `∂g = Gᵀ ∂U G`: per block of tiles, the input and the output gradient are transformed and `tile.pointCount`
/// `O × C` GEMMs (reduction over the block's tiles) accumulate `∂U`; 4× (F(4×4)) or 5× (F(6×6)) fewer
/// multiplications than im2col's `∂Y · colᵀ`. Accuracy as the Winograd forward (≈ 1e-5 relative). Requires a
/// TensorCore GEMM family (`conv2d3x3WinogradIsPreferred`); scratch per block stays below
/// `winogradWorkspaceLimit` floats, plus `tile.pointCount·O·C` floats for `∂U`.
package func conv2d3x3WinogradWeightGradient(outputGradient: Tensor, input: Tensor, tile: WinogradTile) -> Tensor {
  let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let outputs = outputGradient.shape[1]
  precondition(
    outputGradient.shape == [batch, outputs, height, width],
    "conv2d3x3WinogradWeightGradient: gradient \(outputGradient.shape), input \(input.shape)")
  let (tileCount, blockSize, vStride, mStride) = winogradBlocks(
    tile: tile, batch: batch, height: height, width: width, channels: channels, outputs: outputs)
  let points = tile.pointCount
  var transformed = [Float](repeating: 0, count: points * outputs * channels)  // ∂U[ξ], O × C each
  let plan = GEMMPlan.current
  input.withUnsafeBufferPointer { x in
    outputGradient.withUnsafeBufferPointer { dy in
      transformed.withUnsafeMutableBufferPointer { dU in
        ReusableScratch.winograd.withBuffer(floats: points * (vStride + mStride)) { workspace in
          nonisolated(unsafe) let (v, m, u) = (workspace, workspace + points * vStride, dU.baseAddress!)
          var tileBegin = 0
          while tileBegin < tileCount {
            let tileEnd = min(tileCount, tileBegin + blockSize)
            let block = tileEnd - tileBegin
            parallelChunks(channels, costPerItem: block * 4 * points) { range in
              bld_winograd_input_f32(
                tile.side, x.baseAddress!, channels, height, width, tileBegin, tileEnd,
                range.lowerBound, range.upperBound, v, vStride)
            }
            parallelChunks(outputs, costPerItem: block * 4 * points) { range in
              bld_winograd_output_gradient_f32(
                tile.side, dy.baseAddress!, outputs, height, width, tileBegin, tileEnd,
                range.lowerBound, range.upperBound, m, mStride)
            }
            // ∂U[ξ] (O × C) += ∂M[ξ] (O × block) · V[ξ]ᵀ (block × C): one thread per group of points.
            parallelChunks(points, costPerItem: outputs * channels * block) { range in
              for point in range {
                packedSGEMMSingleThreaded(
                  plan: plan, transposeA: false, transposeB: true, m: outputs, n: channels, k: block,
                  a: m + point * mStride,
                  lda: block, b: v + point * vStride, ldb: block, c: u + point * outputs * channels, ldc: channels,
                  beta: 1)
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
