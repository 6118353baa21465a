internal import CTensorKernels

/// The weight gradient of a 3×3, stride-1, padding-1 convolution through Winograd F(4×4, 3×3).
///
/// `outputGradient`: `[N, O, H, W]`, `input`: `[N, C, H, W]` → `∂L/∂W`, `[O, C, 3, 3]`. The forward's
/// `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A` per tile has the adjoint `∂U[ξ] = Σ_tiles (A ∂Y Aᵀ)[ξ] · (Bᵀ d B)[ξ]ᵀ`,
/// `∂g = Gᵀ ∂U G`: per block of tiles, the input and the output gradient are transformed and 36 `O × C` GEMMs
/// (reduction over the block's tiles) accumulate `∂U`; 2.25× fewer multiplications than im2col's
/// `∂Y · colᵀ`. Accuracy as the Winograd forward (≈ 1e-5 relative). Requires a TensorCore GEMM family (`conv2d3x3WinogradIsPreferred`); scratch per
/// block stays below `winogradWorkspaceLimit` floats, plus `36·O·C` floats for `∂U`.
func conv2d3x3WinogradWeightGradient(outputGradient: Tensor, input: Tensor) -> Tensor {
  let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let outputs = outputGradient.shape[1]
  precondition(
    outputGradient.shape == [batch, outputs, height, width],
    "conv2d3x3WinogradWeightGradient: gradient \(outputGradient.shape), input \(input.shape)")
  let (tileCount, blockSize, vStride, mStride) = winogradBlocks(
    batch: batch, height: height, width: width, channels: channels, outputs: outputs)
  var transformed = [Float](repeating: 0, count: 36 * outputs * channels)  // ∂U[ξ], O × C each
  let plan = GEMMPlan.current
  input.withUnsafeBufferPointer { x in
    outputGradient.withUnsafeBufferPointer { dy in
      transformed.withUnsafeMutableBufferPointer { dU in
        ReusableScratch.winograd.withBuffer(floats: 36 * (vStride + mStride)) { workspace in
          nonisolated(unsafe) let (v, m, u) = (workspace, workspace + 36 * vStride, dU.baseAddress!)
          var tileBegin = 0
          while tileBegin < tileCount {
            let tileEnd = min(tileCount, tileBegin + blockSize)
            let block = tileEnd - tileBegin
            parallelChunks(channels, costPerItem: block * 150) { range in
              bld_winograd_f4_input_f32(
                x.baseAddress!, channels, height, width, tileBegin, tileEnd,
                range.lowerBound, range.upperBound, v, vStride)
            }
            parallelChunks(outputs, costPerItem: block * 150) { range in
              bld_winograd_f4_output_gradient_f32(
                dy.baseAddress!, outputs, height, width, tileBegin, tileEnd,
                range.lowerBound, range.upperBound, m, mStride)
            }
            // ∂U[ξ] (O × C) += ∂M[ξ] (O × block) · V[ξ]ᵀ (block × C): one thread per group of points.
            parallelChunks(36, costPerItem: outputs * channels * block) { points in
              for point in points {
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
        bld_winograd_f4_weight_gradient_finish_f32(
          dU.baseAddress!, pairs, range.lowerBound, range.upperBound, result)
      }
    }
  }
}
