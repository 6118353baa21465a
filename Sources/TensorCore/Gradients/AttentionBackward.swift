internal import CTensorKernels

/// The gradients of `scaledDotProductAttention` with respect to query, key and value.
public struct AttentionGradients: Sendable {
  /// `∂L/∂Q`, `[B, Tq, H·d]`.
  public var query: Tensor
  /// `∂L/∂K`, `[B, Tk, H·d]`.
  public var key: Tensor
  /// `∂L/∂V`, `[B, Tk, H·d]`.
  public var value: Tensor
}

/// The backward pass of `scaledDotProductAttention(query:key:value:headCount:causal:)`.
///
/// Shapes as the forward: `query` `[B, Tq, H·d]`, `key`/`value` `[B, Tk, H·d]`, `outputGradient` `[B, Tq, H·d]`.
/// Per head and per tile of `attentionQueryTileRows(queryCount:keyCount:)` query rows, the probabilities
/// `P = softmax(s·QKᵀ)` are recomputed (never held whole), or read from `probabilities` (`[B·H, Tq, Tk]`, from
/// `scaledDotProductAttentionKeepingProbabilities`), and `∂V += Pᵀ·∂O`, `∂P = ∂O·Vᵀ`,
/// `∂S = P ⊙ (∂P − rowsum(∂P ⊙ P))`, `∂Q = s·∂S·K`, `∂K += s·∂Sᵀ·Q` with `s = 1/√d`. Peak extra memory: two
/// `tile × Tk` buffers (one with `probabilities`). The same result either way, bit for bit, for heads wider than
/// `attentionFusedHeadWidthLimit` (whose forward is the same GEMMs and softmax).
public func scaledDotProductAttentionBackward(
  outputGradient: Tensor, query: Tensor, key: Tensor, value: Tensor, headCount: Int, causal: Bool = false,
  probabilities: Tensor? = nil
) -> AttentionGradients {
  scaledDotProductAttentionBackward(
    outputGradient: outputGradient, query: query, key: key, value: value, headCount: headCount, causal: causal,
    probabilities: probabilities, queryTileRows: nil)
}

/// `scaledDotProductAttentionBackward(outputGradient:query:key:value:headCount:causal:probabilities:)` with tiles of
/// `queryTileRows` query rows (nil: `attentionQueryTileRows(queryCount:keyCount:)`; tests take small tiles to cover
/// their edges). `∂K` and `∂V` sum over the tiles, so their rounding follows the tile where it is not a multiple of
/// the GEMM's K block.
package func scaledDotProductAttentionBackward(
  outputGradient: Tensor, query: Tensor, key: Tensor, value: Tensor, headCount: Int, causal: Bool = false,
  probabilities: Tensor? = nil, queryTileRows: Int?
) -> AttentionGradients {
  precondition(queryTileRows.map { $0 > 0 } ?? true, "attention backward: query tiles of \(queryTileRows ?? 0) rows")
  precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention backward expects [B, T, H·d] tensors")
  let (batch, queryCount, width) = (query.shape[0], query.shape[1], query.shape[2])
  let keyCount = key.shape[1]
  precondition(
    key.shape == [batch, keyCount, width] && value.shape == key.shape && outputGradient.shape == query.shape,
    "attention backward: query \(query.shape), key \(key.shape), value \(value.shape), gradient \(outputGradient.shape)"
  )
  precondition(
    headCount > 0 && width % headCount == 0, "attention backward: width \(width) not divisible by \(headCount) heads")
  if let probabilities {
    precondition(
      probabilities.shape == [batch * headCount, queryCount, keyCount],
      "attention backward: probabilities \(probabilities.shape) for \(batch * headCount) heads of \(queryCount) × \(keyCount)"
    )
  }
  let headWidth = width / headCount
  let scale = 1 / Float(headWidth).squareRoot()
  let tile = min(queryCount, queryTileRows ?? attentionQueryTileRows(queryCount: queryCount, keyCount: keyCount))
  var recomputed = [Float](repeating: 0, count: probabilities == nil ? tile * keyCount : 0)
  var scoreGradients = [Float](repeating: 0, count: tile * keyCount)
  var queryGradient = Tensor(shape: query.shape, repeating: 0)
  var keyGradient = Tensor(shape: key.shape, repeating: 0)
  var valueGradient = Tensor(shape: value.shape, repeating: 0)
  query.withUnsafeBufferPointer { q in
    key.withUnsafeBufferPointer { k in
      value.withUnsafeBufferPointer { v in
        outputGradient.withUnsafeBufferPointer { dO in
          queryGradient.withUnsafeMutableBufferPointer { dQ in
            keyGradient.withUnsafeMutableBufferPointer { dK in
              valueGradient.withUnsafeMutableBufferPointer { dV in
                recomputed.withUnsafeMutableBufferPointer { pBuffer in
                  probabilities.withUnsafeBufferPointer { stored in
                    scoreGradients.withUnsafeMutableBufferPointer { dsBuffer in
                      let ds = dsBuffer.baseAddress!
                      for b in 0..<batch {
                        for h in 0..<headCount {
                          let queryOffset = b * queryCount * width + h * headWidth
                          let keyOffset = b * keyCount * width + h * headWidth
                          var start = 0
                          while start < queryCount {
                            let rows = min(tile, queryCount - start)
                            let rowOffset = queryOffset + start * width
                            // P = softmax(s · Q_tile Kᵀ)  [rows, Tk]: the forward's, or recomputed.
                            let p: UnsafeMutablePointer<Float>
                            if let stored {
                              p = UnsafeMutablePointer(
                                mutating: stored.baseAddress! + ((b * headCount + h) * queryCount + start) * keyCount)
                            } else {
                              p = pBuffer.baseAddress!
                              sgemm(
                                transposeA: false, transposeB: true, m: rows, n: keyCount, k: headWidth,
                                a: q.baseAddress! + rowOffset, lda: width, b: k.baseAddress! + keyOffset, ldb: width,
                                c: p, ldc: keyCount, beta: 0)
                              let offset = start
                              parallelChunks(rows, costPerItem: keyCount * 4) { range in
                                bld_softmax_rows_f32(
                                  p, keyCount, range.lowerBound, range.upperBound, scale,
                                  causal ? 1 : 0, offset)
                              }
                            }
                            // ∂V[Tk, d] += Pᵀ · ∂O_tile
                            sgemm(
                              transposeA: true, transposeB: false, m: keyCount, n: headWidth, k: rows,
                              a: p, lda: keyCount, b: dO.baseAddress! + rowOffset, ldb: width,
                              c: dV.baseAddress! + keyOffset, ldc: width, beta: 1)
                            // ∂P = ∂O_tile · Vᵀ  [rows, Tk]
                            sgemm(
                              transposeA: false, transposeB: true, m: rows, n: keyCount, k: headWidth,
                              a: dO.baseAddress! + rowOffset, lda: width, b: v.baseAddress! + keyOffset, ldb: width,
                              c: ds, ldc: keyCount, beta: 0)
                            // ∂S = s · P ⊙ (∂P − rowsum(∂P ⊙ P)); the softmax scale is folded in here.
                            parallelChunks(rows, costPerItem: keyCount * 4) { range in
                              for row in range {
                                let pRow = p + row * keyCount
                                let dRow = ds + row * keyCount
                                var dot: Double = 0
                                for j in 0..<keyCount { dot += Double(pRow[j] * dRow[j]) }
                                let centre = Float(dot)
                                for j in 0..<keyCount { dRow[j] = scale * pRow[j] * (dRow[j] - centre) }
                              }
                            }
                            // ∂Q_tile = ∂S · K;  ∂K += ∂Sᵀ · Q_tile
                            sgemm(
                              transposeA: false, transposeB: false, m: rows, n: headWidth, k: keyCount,
                              a: ds, lda: keyCount, b: k.baseAddress! + keyOffset, ldb: width,
                              c: dQ.baseAddress! + rowOffset, ldc: width, beta: 0)
                            sgemm(
                              transposeA: true, transposeB: false, m: keyCount, n: headWidth, k: rows,
                              a: ds, lda: keyCount, b: q.baseAddress! + rowOffset, ldb: width,
                              c: dK.baseAddress! + keyOffset, ldc: width, beta: 1)
                            start += rows
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
    }
  }
  return AttentionGradients(query: queryGradient, key: keyGradient, value: valueGradient)
}
