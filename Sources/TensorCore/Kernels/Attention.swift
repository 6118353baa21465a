internal import CTensorKernels

/// Query rows per score tile of `scaledDotProductAttention`: the score buffer holds at most
/// `attentionQueryTileRows × keyCount` floats, whatever the query count, batch or head count.
public let attentionQueryTileRows = 256

/// The number of score elements `scaledDotProductAttention` holds at once for `queryCount` queries and
/// `keyCount` keys: `min(queryCount, attentionQueryTileRows) × keyCount` (4 MiB for 4096 keys), against
/// `B × H × Tq × Tk` for a full score matrix.
public func attentionScoreTileElements(queryCount: Int, keyCount: Int) -> Int {
  min(queryCount, attentionQueryTileRows) * keyCount
}

/// Multi-head scaled dot-product attention, `softmax(Q Kᵀ / √d) V`, computed in query tiles so the full
/// score matrix is never held.
///
/// `query`: `[B, Tq, H·d]`, `key` and `value`: `[B, Tk, H·d]` (the layout after diffusers' `to_q`/`to_k`/`to_v`)
/// → `[B, Tq, H·d]`. With `causal`, query `i` attends to keys `0...i` only (CLIP's text mask).
/// Peak extra memory: `attentionQueryTile × Tk` floats.
public func scaledDotProductAttention(
  query: Tensor, key: Tensor, value: Tensor, headCount: Int, causal: Bool = false
) -> Tensor {
  precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention expects [B, T, H·d] tensors")
  let (batch, queryCount, width) = (query.shape[0], query.shape[1], query.shape[2])
  let keyCount = key.shape[1]
  precondition(key.shape == [batch, keyCount, width] && value.shape == key.shape,
               "attention: query \(query.shape), key \(key.shape), value \(value.shape)")
  precondition(headCount > 0 && width % headCount == 0, "attention: width \(width) not divisible by \(headCount) heads")
  let headWidth = width / headCount
  let scale = 1 / Float(headWidth).squareRoot()
  let tile = min(queryCount, attentionQueryTileRows)
  var scores = [Float](repeating: 0, count: attentionScoreTileElements(queryCount: queryCount, keyCount: keyCount))
  return Tensor(shape: query.shape) { out in
    query.withUnsafeBufferPointer { q in
      key.withUnsafeBufferPointer { k in
        value.withUnsafeBufferPointer { v in
          scores.withUnsafeMutableBufferPointer { s in
            let scoreBase = s.baseAddress!
            for b in 0..<batch {
              for h in 0..<headCount {
                let qBase = q.baseAddress! + b * queryCount * width + h * headWidth
                let kBase = k.baseAddress! + b * keyCount * width + h * headWidth
                let vBase = v.baseAddress! + b * keyCount * width + h * headWidth
                let oBase = out.baseAddress! + b * queryCount * width + h * headWidth
                var start = 0
                while start < queryCount {
                  let rows = min(tile, queryCount - start)
                  sgemm(transposeA: false, transposeB: true, m: rows, n: keyCount, k: headWidth,
                        a: qBase + start * width, lda: width, b: kBase, ldb: width,
                        c: scoreBase, ldc: keyCount, beta: 0)
                  let offset = start
                  parallelChunks(rows, costPerItem: keyCount * 4) { range in
                    bld_softmax_rows_f32(scoreBase + 0, keyCount, range.lowerBound, range.upperBound, scale,
                                         causal ? 1 : 0, offset)
                  }
                  sgemm(transposeA: false, transposeB: false, m: rows, n: headWidth, k: keyCount,
                        a: scoreBase, lda: keyCount, b: vBase, ldb: width,
                        c: oBase + start * width, ldc: width, beta: 0)
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
