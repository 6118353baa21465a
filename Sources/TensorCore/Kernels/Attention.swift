internal import CTensorKernels

/// The most score floats the GEMM path of `scaledDotProductAttention` (heads wider than
/// `attentionFusedHeadWidthLimit`) holds at once, and the training backward's score-gradient buffer: 16 Mi floats
/// (64 MiB).
package let attentionScoreTileLimit = 1 << 24

/// Query rows per score tile of the GEMM path: as many whole score rows as `attentionScoreTileLimit` holds (all
/// 4,096 queries of the VAE's attention at 512 × 512, 1,024 of the 16,384 at 1024 × 1024), at least one. Every tile
/// packs the keys and values again for its GEMMs, so fewer, larger tiles pay that less often: on Zen 4 the VAE's
/// 512-wide head at 4,096 tokens took 0.53 s for a training forward and backward with one tile, 0.56 s with tiles of
/// 1,024 rows and 0.63 s with the 256 rows used before (Decision 0037).
package func attentionQueryTileRows(queryCount: Int, keyCount: Int) -> Int {
  max(1, min(queryCount, attentionScoreTileLimit / max(1, keyCount)))
}

/// The widest head handled by the fused kernel; wider heads (the VAE's single 512-wide head) use BLAS GEMMs on
/// query tiles, where the large reduction makes BLAS faster.
package let attentionFusedHeadWidthLimit = 128

/// Query rows per work item of the fused kernel: each block of keys and values is read once for these rows.
let attentionFusedBlockRows = 64

/// The number of scratch floats `scaledDotProductAttention` holds at once (over all threads), against
/// `B × H × Tq × Tk` for a full score matrix:
/// - heads up to `attentionFusedHeadWidthLimit` wide: per thread, one key block of scores and, for 64 query
///   rows, their output accumulators, maxima and sums (with AVX-512 also their scaled queries):
///   `bld_attention_scratch_floats`, whatever the key count;
/// - wider heads: `attentionQueryTileRows(queryCount:keyCount:) × keyCount`, at most `attentionScoreTileLimit`
///   (or one score row).
///
/// The fused path also holds one packed copy of the keys (the size of `key`, keys rounded up to 16) and of the
/// values (the size of `value`).
package func attentionScoreWorkspaceElements(
  queryCount: Int, keyCount: Int, headWidth: Int, threadCount: Int = ComputeOptions.threadCount
) -> Int {
  headWidth <= attentionFusedHeadWidthLimit
    ? max(1, threadCount) * bld_attention_scratch_floats(attentionFusedBlockRows, headWidth)
    : attentionQueryTileRows(queryCount: queryCount, keyCount: keyCount) * keyCount
}

/// Multi-head scaled dot-product attention, `softmax(Q Kᵀ / √d) V`, that never holds the full score matrix.
///
/// `query`: `[B, Tq, H·d]`, `key` and `value`: `[B, Tk, H·d]` (the layout after diffusers' `to_q`/`to_k`/`to_v`)
/// → `[B, Tq, H·d]`. With `causal`, query `i` attends to keys `0...i` only (CLIP's text mask; PyTorch's
/// `is_causal`, aligned top-left when `Tq ≠ Tk`).
///
/// Heads up to `attentionFusedHeadWidthLimit` wide run a fused C kernel in parallel over batch × head × blocks of
/// 64 query rows, without BLAS: keys and values (packed per head) are visited in blocks with an online softmax
/// (running maximum and sum), so each block is read once for all 64 rows and no score row longer than a block
/// exists (sixteen query rows per kernel pass in the lanes of AVX-512 vectors, blocks of 64 keys; four rows and
/// blocks of 256 otherwise). Wider heads use GEMMs on tiles of `attentionQueryTileRows(queryCount:keyCount:)` query
/// rows with a parallel softmax in between. Extra memory is given by `attentionScoreWorkspaceElements`.
public func scaledDotProductAttention(
  query: Tensor, key: Tensor, value: Tensor, headCount: Int, causal: Bool = false
) -> Tensor {
  scaledDotProductAttention(
    query: query, key: key, value: value, headCount: headCount, causal: causal, queryTileRows: nil)
}

/// `scaledDotProductAttention(query:key:value:headCount:causal:)` with tiles of `queryTileRows` query rows on the
/// GEMM path (nil: `attentionQueryTileRows(queryCount:keyCount:)`; tests take small tiles to cover their edges,
/// and the result is the same, bit for bit, for any tile).
package func scaledDotProductAttention(
  query: Tensor, key: Tensor, value: Tensor, headCount: Int, causal: Bool = false, queryTileRows: Int?
) -> Tensor {
  checkAttentionOperands(query: query, key: key, value: value, headCount: headCount)
  let headWidth = query.shape[2] / headCount
  if headWidth <= attentionFusedHeadWidthLimit {
    return fusedAttention(query: query, key: key, value: value, headCount: headCount, causal: causal)
  }
  return tiledGEMMAttention(
    query: query, key: key, value: value, headCount: headCount, causal: causal, tileRows: queryTileRows)
}

/// Stops with a message naming the problem unless `query` is `[B, Tq, H·d]`, `key` and `value` `[B, Tk, H·d]` with
/// `Tk ≥ 1`, and the width splits into `headCount ≥ 1` heads.
private func checkAttentionOperands(query: Tensor, key: Tensor, value: Tensor, headCount: Int) {
  precondition(query.rank == 3 && key.rank == 3 && value.rank == 3, "attention expects [B, T, H·d] tensors")
  let (batch, width) = (query.shape[0], query.shape[2])
  let keyCount = key.shape[1]
  precondition(
    key.shape == [batch, keyCount, width] && value.shape == key.shape,
    "attention: query \(query.shape), key \(key.shape), value \(value.shape)")
  precondition(keyCount > 0, "attention needs at least one key, got \(key.shape)")
  precondition(headCount > 0 && width % headCount == 0, "attention: width \(width) not divisible by \(headCount) heads")
}

/// The fused path: per (batch, head) transposed keys, then blocks of query rows in parallel.
private func fusedAttention(query: Tensor, key: Tensor, value: Tensor, headCount: Int, causal: Bool) -> Tensor {
  let (batch, queryCount, width) = (query.shape[0], query.shape[1], query.shape[2])
  let keyCount = key.shape[1]
  let headWidth = width / headCount
  let scale = 1 / Float(headWidth).squareRoot()
  let heads = batch * headCount
  // Each head's keys packed in panels of 16 keys × d (contiguous), so the score kernel streams them, and its
  // values in contiguous rows of d, so no cache line the value product reads carries another head's numbers.
  let paddedKeys = bld_padded_key_count(keyCount)
  /// Every head of `source` (`[B, Tk, H·d]`) packed by `pack` into its own `rows × d` floats.
  func packedHeads(
    _ source: Tensor, rows: Int,
    _ pack: (UnsafePointer<Float>?, Int, Int, Int, UnsafeMutablePointer<Float>?) -> Void
  ) -> Tensor {
    Tensor(shape: [heads, rows * headWidth]) { packed in
      source.withUnsafeBufferPointer { s in
        parallelChunks(heads, costPerItem: keyCount * headWidth) { range in
          for item in range {
            let (b, h) = item.quotientAndRemainder(dividingBy: headCount)
            pack(
              s.baseAddress! + b * keyCount * width + h * headWidth, keyCount, width, headWidth,
              packed.baseAddress! + item * rows * headWidth)
          }
        }
      }
    }
  }
  let packedKeys = packedHeads(key, rows: paddedKeys, bld_pack_keys_f32)
  let packedValues = packedHeads(value, rows: keyCount, bld_pack_values_f32)
  // Work items: (batch·head, block of query rows). Blocks are small enough to balance two or more threads
  // even for one head, large enough that each key/value block serves many rows.
  let blockRows = attentionFusedBlockRows
  let blocks = (queryCount + blockRows - 1) / blockRows
  return Tensor(shape: query.shape) { out in
    query.withUnsafeBufferPointer { q in
      packedValues.withUnsafeBufferPointer { v in
        packedKeys.withUnsafeBufferPointer { kp in
          parallelChunks(heads * blocks, costPerItem: blockRows * keyCount * headWidth * 4) { range in
            let scratch = UnsafeMutablePointer<Float>.allocate(
              capacity: bld_attention_scratch_floats(blockRows, headWidth))
            defer { scratch.deallocate() }
            for item in range {
              let (head, block) = item.quotientAndRemainder(dividingBy: blocks)
              let (b, h) = head.quotientAndRemainder(dividingBy: headCount)
              let offset = b * queryCount * width + h * headWidth
              bld_attention_head_f32(
                q.baseAddress! + offset, kp.baseAddress! + head * paddedKeys * headWidth,
                v.baseAddress! + head * keyCount * headWidth, headWidth, out.baseAddress! + offset, keyCount, width,
                headWidth, block * blockRows, min(queryCount, (block + 1) * blockRows), scale, causal ? 1 : 0, scratch)
            }
          }
        }
      }
    }
  }
}

/// Multi-head scaled dot-product attention for a training step: `scaledDotProductAttention`'s output (bit for bit
/// for heads wider than `attentionFusedHeadWidthLimit`, whose path this always takes) and the attention
/// probabilities `softmax(Q Kᵀ / √d)` it computed on the way, `[B·H, Tq, Tk]` (head `h` of sample `b` at
/// `b·H + h`), which `scaledDotProductAttentionBackward(…, probabilities:)` then reads instead of recomputing them.
/// Holds the full `B·H·Tq·Tk` probabilities: for the few, wide heads of a VAE's attention, not a UNet's.
public func scaledDotProductAttentionKeepingProbabilities(
  query: Tensor, key: Tensor, value: Tensor, headCount: Int, causal: Bool = false
) -> (output: Tensor, probabilities: Tensor) {
  scaledDotProductAttentionKeepingProbabilities(
    query: query, key: key, value: value, headCount: headCount, causal: causal, queryTileRows: nil)
}

/// `scaledDotProductAttentionKeepingProbabilities(query:key:value:headCount:causal:)` with tiles of
/// `queryTileRows` query rows (nil: `attentionQueryTileRows(queryCount:keyCount:)`).
package func scaledDotProductAttentionKeepingProbabilities(
  query: Tensor, key: Tensor, value: Tensor, headCount: Int, causal: Bool = false, queryTileRows: Int?
) -> (output: Tensor, probabilities: Tensor) {
  checkAttentionOperands(query: query, key: key, value: value, headCount: headCount)
  let (batch, queryCount, keyCount) = (query.shape[0], query.shape[1], key.shape[1])
  var output: Tensor?
  let probabilities = Tensor(shape: [batch * headCount, queryCount, keyCount]) { p in
    output = tiledGEMMAttention(
      query: query, key: key, value: value, headCount: headCount, causal: causal, tileRows: queryTileRows,
      probabilities: p.baseAddress!)
  }
  return (output!, probabilities)
}

/// The BLAS path for wide heads: query tiles of `tileRows` (nil: `attentionQueryTileRows(queryCount:keyCount:)`),
/// BLAS GEMMs, parallel softmax. Each tile's probabilities go to a scratch tile, or to their place in
/// `probabilities` (`[B·H, Tq, Tk]`) when given.
private func tiledGEMMAttention(
  query: Tensor, key: Tensor, value: Tensor, headCount: Int, causal: Bool, tileRows: Int?,
  probabilities: UnsafeMutablePointer<Float>? = nil
) -> Tensor {
  precondition(tileRows.map { $0 > 0 } ?? true, "attention: query tiles of \(tileRows ?? 0) rows")
  let (batch, queryCount, width) = (query.shape[0], query.shape[1], query.shape[2])
  let keyCount = key.shape[1]
  let headWidth = width / headCount
  let scale = 1 / Float(headWidth).squareRoot()
  let tile = min(queryCount, tileRows ?? attentionQueryTileRows(queryCount: queryCount, keyCount: keyCount))
  var scores = [Float](repeating: 0, count: probabilities == nil ? tile * keyCount : 0)
  return Tensor(shape: query.shape) { out in
    query.withUnsafeBufferPointer { q in
      key.withUnsafeBufferPointer { k in
        value.withUnsafeBufferPointer { v in
          scores.withUnsafeMutableBufferPointer { s in
            for b in 0..<batch {
              for h in 0..<headCount {
                let qBase = q.baseAddress! + b * queryCount * width + h * headWidth
                let kBase = k.baseAddress! + b * keyCount * width + h * headWidth
                let vBase = v.baseAddress! + b * keyCount * width + h * headWidth
                let oBase = out.baseAddress! + b * queryCount * width + h * headWidth
                var start = 0
                while start < queryCount {
                  let rows = min(tile, queryCount - start)
                  let scoreBase =
                    probabilities.map { $0 + ((b * headCount + h) * queryCount + start) * keyCount } ?? s.baseAddress!
                  // BLAS (its own threads) → our threads (softmax, no BLAS) → BLAS: never nested.
                  sgemm(
                    transposeA: false, transposeB: true, m: rows, n: keyCount, k: headWidth,
                    a: qBase + start * width, lda: width, b: kBase, ldb: width,
                    c: scoreBase, ldc: keyCount, beta: 0)
                  let offset = start
                  parallelChunks(rows, costPerItem: keyCount * 4) { range in
                    bld_softmax_rows_f32(
                      scoreBase + 0, keyCount, range.lowerBound, range.upperBound, scale,
                      causal ? 1 : 0, offset)
                  }
                  sgemm(
                    transposeA: false, transposeB: false, m: rows, n: headWidth, k: keyCount,
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
