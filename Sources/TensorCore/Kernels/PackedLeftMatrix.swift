internal import CTensorKernels

/// `C = A·op(B) + beta·C` with A pre-packed by `plan.packLeft`, on `ComputeOptions.threadCount` threads
/// (the rows or the columns of C are split; A is shared, never re-packed), in `precision`.
func prepackedSGEMM(
  plan: GEMMPlan, packedA: UnsafePointer<Float>, m: Int, n: Int, k: Int, transposeB: Bool, b: UnsafePointer<Float>,
  ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float,
  precision: GEMMPrecision = ComputeOptions.matrixPrecision
) {
  guard m > 0 && n > 0 else { return }
  guard !plan.usesBLAS else {
    openBLASSGEMM(
      transposeA: false, transposeB: transposeB, m: m, n: n, k: k, a: packedA, lda: max(k, 1), b: b, ldb: ldb,
      c: c, ldc: ldc, beta: beta)
    return
  }
  let (tileRows, tileColumns) = (plan.tileRows, plan.tileColumns)
  let rowTiles = (m + tileRows - 1) / tileRows
  let columnTiles = (n + tileColumns - 1) / tileColumns
  let minimumWork = 1 << 20
  if columnTiles >= rowTiles {
    parallelChunks(columnTiles, costPerItem: tileColumns * m * max(k, 1), minimumWork: minimumWork) { tiles in
      let first = tiles.lowerBound * tileColumns
      let last = min(n, tiles.upperBound * tileColumns)
      prepackedSGEMMBlock(
        plan: plan, packedA: packedA, m: m, rows: 0..<m, n: last - first, k: k, transposeB: transposeB,
        b: transposeB ? b + first * ldb : b + first, ldb: ldb, c: c + first, ldc: ldc, beta: beta,
        precision: precision)
    }
  } else {
    // Each row piece packs all of op(B) again: keep pieces at least `gemmPieceExtent` rows.
    parallelChunks(
      rowTiles, costPerItem: tileRows * n * max(k, 1), minimumWork: minimumWork, maximumPieces: m / gemmPieceExtent
    ) { tiles in
      let rows = (tiles.lowerBound * tileRows)..<min(m, tiles.upperBound * tileRows)
      prepackedSGEMMBlock(
        plan: plan, packedA: packedA, m: m, rows: rows, n: n, k: k, transposeB: transposeB, b: b, ldb: ldb, c: c,
        ldc: ldc, beta: beta, precision: precision)
    }
  }
}

/// Single-threaded fp32 `C = A·B + beta·C` with A (`m × k`) in the plan's packed left-operand layout
/// (`bld_gemm_pack_a_f32`'s) and B (`k × n`) in its packed right-operand layout (`bld_gemm_pack_b_f32`'s), so
/// nothing is packed here: the Winograd products, whose transforms write those layouts themselves. `beta == 0`
/// never reads `C`. Needs a TensorCore kernel family.
func prepackedProductSingleThreaded(
  plan: GEMMPlan, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>, m: Int, n: Int, k: Int,
  c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float
) {
  precondition(!plan.usesBLAS, "prepackedProductSingleThreaded needs a TensorCore kernel family")
  guard m > 0 && n > 0 else { return }
  GEMMScratchPool.shared.withScratch { scratch in
    withUnsafePointer(to: plan.raw) { raw in
      bld_gemm_packed_b_f32(raw, m, n, k, 0, nil, 0, packedA, packedB, 0, m, 0, n, beta, c, ldc, 1, scratch, 0)
    }
  }
}

/// Rows `rows` (starting at a multiple of the tile height) of a pre-packed product, on the calling thread.
private func prepackedSGEMMBlock(
  plan: GEMMPlan, packedA: UnsafePointer<Float>, m: Int, rows: Range<Int>, n: Int, k: Int, transposeB: Bool,
  b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, precision: GEMMPrecision
) {
  guard !rows.isEmpty && n > 0 else { return }
  let bfloat16: Int32 = precision == .bfloat16 && plan.supportsBFloat16 ? 1 : 0
  GEMMScratchPool.shared.withScratch { scratch in
    withUnsafePointer(to: plan.raw) { raw in
      bld_gemm_prepacked_a_f32(
        raw, m, n, k, packedA, rows.lowerBound, rows.upperBound, transposeB ? 1 : 0, b, ldb, beta, c, ldc, 1, scratch,
        bfloat16)
    }
  }
}

/// A GEMM left operand (`m × k`, such as convolution weights `[O, C·kH·kW]`) packed once into the panel
/// layout of the micro-kernel family in force when it was made (`ComputeOptions.matrixKernel`), so repeated
/// products skip re-packing it. Products with it always run on that family.
///
/// Matches: `PackedGEMM.multiply` with the same `op(A)`, bit for bit (same blocking and summation order).
///
/// Limitations: only the left operand can be pre-packed (convolutions and Winograd; `Linear` weights are
/// the right operand). With `MatrixKernel.blas` it stores a plain row-major copy used through OpenBLAS.
package struct PackedLeftMatrix: Sendable {
  /// Rows of `op(A)` (`m`).
  package let rows: Int
  /// Columns of `op(A)`, the reduction length (`k`).
  package let depth: Int
  /// The packed scalars.
  let storage: [Float]
  /// The plan whose layout `storage` has.
  let plan: GEMMPlan

  /// Packs a rank-2 tensor `[m, k]` (or `[k, m]` with `transposed`, then used as its transpose).
  ///
  /// - Throws: `PackedGEMMError.notAMatrix` when `matrix` is not rank 2.
  package init(_ matrix: Tensor, transposed: Bool = false) throws(PackedGEMMError) {
    guard matrix.rank == 2 else { throw .notAMatrix(matrix.shape) }
    let (m, k) = transposed ? (matrix.shape[1], matrix.shape[0]) : (matrix.shape[0], matrix.shape[1])
    rows = m
    depth = k
    let plan = GEMMPlan.current
    self.plan = plan
    let count = plan.packedLeftFloats(m: m, k: k)
    storage = matrix.withUnsafeBufferPointer { a in
      [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        if count > 0 {
          buffer.initialize(repeating: 0)
          plan.packLeft(
            transposeA: transposed, m: m, k: k, a: a.baseAddress!, lda: max(matrix.shape[1], 1),
            into: buffer.baseAddress!)
        }
        initialized = count
      }
    }
  }
}

extension PackedGEMM {
  /// Computes `C = A·op(B) + beta·C` (row-major) with a pre-packed left operand `a` (`m × k`), after
  /// checking the buffers. `op(B)` is `k × n` (stored `n × k` when `transposeB`). Uses
  /// `ComputeOptions.threadCount` threads; `precision: .bfloat16` opts into the bf16 kernel (see
  /// `GEMMPrecision`).
  ///
  /// - Throws: `PackedGEMMError` naming the offending argument.
  package static func multiply(
    _ a: PackedLeftMatrix, transposeB: Bool, n: Int, b: UnsafeBufferPointer<Float>, ldb: Int,
    c: UnsafeMutableBufferPointer<Float>, ldc: Int, beta: Float, precision: GEMMPrecision = .float32
  ) throws(PackedGEMMError) {
    if n < 0 { throw .negativeDimension(name: "n", value: n) }
    let (m, k) = (a.rows, a.depth)
    try checkBuffer("b", count: b.count, rows: transposeB ? n : k, columns: transposeB ? k : n, leading: ldb)
    try checkBuffer("c", count: c.count, rows: m, columns: n, leading: ldc)
    guard m > 0 && n > 0 else { return }
    if k == 0 {
      for row in 0..<m { for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] } }
      return
    }
    a.storage.withUnsafeBufferPointer { packed in
      prepackedSGEMM(
        plan: a.plan, packedA: packed.baseAddress!, m: m, n: n, k: k, transposeB: transposeB, b: b.baseAddress!,
        ldb: ldb,
        c: c.baseAddress!, ldc: ldc, beta: beta, precision: precision)
    }
  }
}
