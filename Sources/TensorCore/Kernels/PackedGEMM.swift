internal import CTensorKernels

/// `C = op(A)·op(B) + beta·C` in row-major order through TensorCore's blocked GEMM with the micro-kernel family
/// of `ComputeOptions.matrixKernel`, using `ComputeOptions.threadCount` threads. Same contract as `sgemm`;
/// OpenBLAS only where no family runs. `beta == 0` never reads `C` (NaNs in it are overwritten).
///
/// Threads split the larger tile dimension of the product into contiguous ranges; each thread packs its
/// own panels into scratch from `GEMMScratchPool`, and no BLAS runs inside the parallel region. Products
/// with very few columns (attention's `P·V` with a 40-wide head) are computed transposed, `Cᵀ = op(B)ᵀ·op(A)ᵀ`,
/// so the narrow side lands on the short side of the micro-tile instead of padding whole column panels.
func packedSGEMM(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, precision: GEMMPrecision = .float32
) {
  guard m > 0 && n > 0 else { return }
  let plan = GEMMPlan.current
  guard !plan.usesBLAS else {
    openBLASSGEMM(
      transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c,
      ldc: ldc, beta: beta)
    return
  }
  var problem = GEMMProblem(
    plan: plan, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
    c: c, ldc: ldc, beta: beta)
  problem.bfloat16 = precision == .bfloat16 && plan.supportsBFloat16
  problem.runInParallel()
}

/// The fewest rows (or columns) a GEMM piece gets when the product is split across threads: each piece packs
/// the whole shared operand again, which costs about 3 % of the piece's work at this extent.
let gemmPieceExtent = 1024

/// The largest op(B), in floats (16 Mi floats = 64 MiB), that a product split by rows packs once into shared
/// panels; larger ones are packed by each piece.
let sharedPackedOperandLimit = 16 << 20

/// One GEMM in the kernel's frame (C addressed by row and column strides), split across threads.
private struct GEMMProblem {
  var plan: GEMMPlan
  var transposeA: Bool
  var transposeB: Bool
  var m: Int
  var n: Int
  var k: Int
  var a: UnsafePointer<Float>
  var lda: Int
  var b: UnsafePointer<Float>
  var ldb: Int
  var c: UnsafeMutablePointer<Float>
  var rowStride: Int
  var columnStride: Int
  var beta: Float
  /// Whether to run the bf16 kernel (only set when the plan supports it).
  var bfloat16 = false

  /// The product in the orientation that wastes least of the micro-tile: C directly, or, for products
  /// with very few columns and a long reduction, `Cᵀ = op(B)ᵀ·op(A)ᵀ` written through swapped C strides.
  init(
    plan: GEMMPlan, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float
  ) {
    self.plan = plan
    if Self.prefersTransposedProduct(plan: plan, m: m, n: n, k: k) {
      (self.transposeA, self.transposeB, self.m, self.n, self.k) = (!transposeB, !transposeA, n, m, k)
      (self.a, self.lda, self.b, self.ldb) = (b, ldb, a, lda)
      (self.c, rowStride, columnStride, self.beta) = (c, 1, ldc, beta)
    } else {
      (self.transposeA, self.transposeB, self.m, self.n, self.k) = (transposeA, transposeB, m, n, k)
      (self.a, self.lda, self.b, self.ldb) = (a, lda, b, ldb)
      (self.c, rowStride, columnStride, self.beta) = (c, ldc, 1, beta)
    }
  }

  /// Whether `Cᵀ = op(B)ᵀ·op(A)ᵀ` wastes less of the micro-tile than C: few columns, a long reduction.
  static func prefersTransposedProduct(plan: GEMMPlan, m: Int, n: Int, k: Int) -> Bool {
    // Padding waste of each orientation: columns pad to the tile's width, rows to its height.
    let paddedColumns = Double(roundedUp(n, to: plan.tileColumns)) / Double(n)
    let paddedRowsIfSwapped = Double(roundedUp(n, to: plan.tileRows)) / Double(n)
    return k >= 64 && m > n && paddedColumns > 1.25 * paddedRowsIfSwapped
  }

  func runInParallel() {
    let (tileRows, tileColumns) = (plan.tileRows, plan.tileColumns)
    let rowTiles = (m + tileRows - 1) / tileRows
    let columnTiles = (n + tileColumns - 1) / tileColumns
    // Small products stay on the calling thread (a dispatch costs about as much as ~1M multiply-adds). Each
    // piece packs the shared operand again, so pieces keep at least `gemmPieceExtent` rows or columns.
    let minimumWork = 1 << 20
    if columnTiles >= rowTiles {
      parallelChunks(
        columnTiles, costPerItem: tileColumns * m * max(k, 1), minimumWork: minimumWork,
        maximumPieces: n / gemmPieceExtent
      ) { tiles in
        let first = tiles.lowerBound * tileColumns
        let last = min(n, tiles.upperBound * tileColumns)
        run(rows: 0..<m, columns: first..<last)
      }
    } else if n * k <= sharedPackedOperandLimit && m * n * max(k, 1) >= minimumWork
      && min(ComputeOptions.threadCount, rowTiles) > 1
    {
      runRowsWithSharedB()
    } else {
      parallelChunks(
        rowTiles, costPerItem: tileRows * n * max(k, 1), minimumWork: minimumWork, maximumPieces: m / gemmPieceExtent
      ) { tiles in
        let first = tiles.lowerBound * tileRows
        let last = min(m, tiles.upperBound * tileRows)
        run(rows: first..<last, columns: 0..<n)
      }
    }
  }

  /// A product split by rows: op(B) is packed once into shared panels (in parallel), then every piece packs
  /// only its own rows of op(A) — pieces can be as small as load balance wants.
  private func runRowsWithSharedB() {
    let floats = withUnsafePointer(to: plan.raw) { bld_gemm_packed_b_floats($0, k, n) }
    ReusableScratch.sharedPanels.withBuffer(floats: floats) { packedB in runRows(sharingPanels: packedB) }
  }

  /// `runRowsWithSharedB` with its panel buffer (64-byte aligned, `bld_gemm_packed_b_floats` floats).
  private func runRows(sharingPanels packedB: UnsafeMutablePointer<Float>) {
    let tileColumns = plan.tileColumns
    let panels = (n + tileColumns - 1) / tileColumns
    withUnsafePointer(to: plan.raw) { raw in
      parallelChunks(panels, costPerItem: tileColumns * k) { range in
        bld_gemm_pack_b_f32(
          raw, transposeB ? 1 : 0, k, n, b, ldb, range.lowerBound, range.upperBound, packedB)
      }
    }
    multiplyRowsSharingPanels(
      plan: plan, m: m, n: n, k: k, transposeA: transposeA, a: a, lda: lda, packedB: packedB, beta: beta, c: c,
      rowStride: rowStride, columnStride: columnStride, bfloat16: bfloat16)
  }

  /// Computes the block `rows × columns` of C on the current thread.
  func run(rows: Range<Int>, columns: Range<Int>) {
    guard !rows.isEmpty && !columns.isEmpty else { return }
    let aBlock = transposeA ? a + rows.lowerBound : a + rows.lowerBound * lda
    let bBlock = transposeB ? b + columns.lowerBound * ldb : b + columns.lowerBound
    let cBlock = c + rows.lowerBound * rowStride + columns.lowerBound * columnStride
    GEMMScratchPool.shared.withScratch { scratch in
      withUnsafePointer(to: plan.raw) { raw in
        bld_gemm_f32(
          raw, transposeA ? 1 : 0, transposeB ? 1 : 0, rows.count, columns.count, k, aBlock, lda, bBlock, ldb, beta,
          cBlock, rowStride, columnStride, scratch, bfloat16 ? 1 : 0)
      }
    }
  }
}

/// The rows of `C = op(A)·B + beta·C` split across threads, B already packed whole into the plan's panels
/// (`bld_gemm_pack_b_f32` or `bld_gemm_pack_b_half_transposed`): every piece packs only its own rows of op(A).
/// C is addressed through `rowStride` and `columnStride`.
func multiplyRowsSharingPanels(
  plan: GEMMPlan, m: Int, n: Int, k: Int, transposeA: Bool, a: UnsafePointer<Float>, lda: Int,
  packedB: UnsafePointer<Float>, beta: Float, c: UnsafeMutablePointer<Float>, rowStride: Int, columnStride: Int,
  bfloat16: Bool
) {
  let tileRows = plan.tileRows
  let rowTiles = (m + tileRows - 1) / tileRows
  // Every piece streams all of the shared panels (from L3 when they outgrow L2), so pieces keep at least one
  // M cache block of rows: sgemm-2048 on 2 threads ran 280 GFLOP/s in 8 pieces, 292 in 4, 297 in 2.
  let maximumPieces = m / max(Int(plan.raw.mc), 1)
  parallelChunks(rowTiles, costPerItem: tileRows * n * max(k, 1), minimumWork: 0, maximumPieces: maximumPieces) {
    tiles in
    let rows = (tiles.lowerBound * tileRows)..<min(m, tiles.upperBound * tileRows)
    GEMMScratchPool.shared.withScratch { scratch in
      withUnsafePointer(to: plan.raw) { raw in
        bld_gemm_packed_b_f32(
          raw, m, n, k, transposeA ? 1 : 0, a, lda, nil, packedB, rows.lowerBound, rows.upperBound, 0, n, beta, c,
          rowStride, columnStride, scratch, bfloat16 ? 1 : 0)
      }
    }
  }
}

/// Whether `packedSGEMMWithHalfPrecisionB` runs an `m × n × k` product here: a TensorCore kernel family, a product
/// split by rows with shared panels (not the transposed orientation, more row tiles than column tiles) and a B
/// no larger than `sharedPackedOperandLimit`. Otherwise the caller widens B and uses `packedSGEMM`.
func halfPrecisionRightOperandFits(m: Int, n: Int, k: Int) -> Bool {
  let plan = GEMMPlan.current
  guard m > 0 && n > 0 && k > 0 && !plan.usesBLAS && n * k <= sharedPackedOperandLimit else { return false }
  let panels = (n + plan.tileColumns - 1) / plan.tileColumns
  return !GEMMProblem.prefersTransposedProduct(plan: plan, m: m, n: n, k: k)
    && (m + plan.tileRows - 1) / plan.tileRows > panels
}

/// `C = A·Bᵀ + beta·C` with B (`n × k`, row-major: a linear layer's weight) stored at half width as IEEE half or
/// bfloat16 bits, A `m × k` row-major (`lda`), C row-major (`ldc`). B is widened panel by panel straight into the
/// shared panels of a product split by rows, so no float32 copy of it exists: half the bytes read and none
/// written compared with widening it first.
/// - Precondition: `halfPrecisionRightOperandFits(m:n:k:)`.
func packedSGEMMWithHalfPrecisionB(
  m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, bits: UnsafePointer<UInt16>, bfloat16 isBFloat16: Bool,
  c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, precision: GEMMPrecision
) {
  precondition(halfPrecisionRightOperandFits(m: m, n: n, k: k), "half-precision B for a \(m)×\(n)×\(k) product")
  let plan = GEMMPlan.current
  let tileColumns = plan.tileColumns
  let panels = (n + tileColumns - 1) / tileColumns
  let floats = withUnsafePointer(to: plan.raw) { bld_gemm_packed_b_floats($0, k, n) }
  ReusableScratch.sharedPanels.withBuffer(floats: floats) { packedB in
    parallelChunks(panels, costPerItem: tileColumns * k) { range in
      let staging = UnsafeMutablePointer<Float>.allocate(capacity: tileColumns * k)
      defer { staging.deallocate() }
      withUnsafePointer(to: plan.raw) { raw in
        bld_gemm_pack_b_half_transposed(
          raw, k, n, bits, isBFloat16 ? 1 : 0, range.lowerBound, range.upperBound, staging, packedB)
      }
    }
    multiplyRowsSharingPanels(
      plan: plan, m: m, n: n, k: k, transposeA: false, a: a, lda: lda, packedB: packedB, beta: beta, c: c,
      rowStride: ldc, columnStride: 1, bfloat16: precision == .bfloat16 && plan.supportsBFloat16)
  }
}

/// Runs one single-threaded GEMM on the calling thread with `plan` (for callers that parallelise over many
/// independent products themselves, such as the Winograd weight gradient; they read `GEMMPlan.current` on the
/// thread that started the operation). C is row-major with stride `ldc`. Requires a TensorCore kernel family:
/// BLAS never runs inside a parallel region.
func packedSGEMMSingleThreaded(
  plan: GEMMPlan, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float
) {
  precondition(!plan.usesBLAS, "packedSGEMMSingleThreaded needs a TensorCore kernel family")
  guard m > 0 && n > 0 else { return }
  let problem = GEMMProblem(
    plan: plan, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
    c: c, ldc: ldc, beta: beta)
  problem.run(rows: 0..<problem.m, columns: 0..<problem.n)
}

private func roundedUp(_ value: Int, to multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }

// MARK: - Public entry point

/// TensorCore's own packed single-precision GEMM on raw row-major buffers.
///
/// Matches: BLAS `sgemm` semantics in row-major order with `alpha = 1`: `C = op(A)·op(B) + beta·C`, where
/// `op(A)` is `m × k` (stored `k × m` when `transposeA`), `op(B)` is `k × n` (stored `n × k` when
/// `transposeB`), and leading dimensions may exceed the logical widths. Results agree with a
/// double-precision reference to fp32 rounding (summation order differs from OpenBLAS).
///
/// Limitations: TensorCore's kernels need AVX2 + FMA or AVX-512 (`ComputeOptions.matrixKernel`); other CPUs
/// get OpenBLAS. `beta == 0` never reads `C`. Uses `ComputeOptions.threadCount` threads; must not be called from inside another
/// TensorCore parallel region.
package enum PackedGEMM {
  /// Whether products started here run on TensorCore's own kernels (otherwise `multiply` forwards to OpenBLAS).
  package static var isAccelerated: Bool { !GEMMPlan.current.usesBLAS }

  /// Whether `GEMMPrecision.bfloat16` runs the bf16 kernel here (AVX512_BF16); otherwise it computes in fp32.
  package static var supportsBFloat16: Bool { GEMMPlan.current.supportsBFloat16 }

  /// Computes `C = op(A)·op(B) + beta·C` (row-major) after checking that every buffer is large enough.
  /// `precision: .bfloat16` opts into the faster, less accurate bf16 kernel (see `GEMMPrecision`).
  ///
  /// - Throws: `PackedGEMMError` naming the offending argument when a size is negative, a leading
  ///   dimension is smaller than the stored row, or a buffer is too short.
  package static func multiply(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    a: UnsafeBufferPointer<Float>, lda: Int, b: UnsafeBufferPointer<Float>, ldb: Int,
    c: UnsafeMutableBufferPointer<Float>, ldc: Int, beta: Float, precision: GEMMPrecision = .float32
  ) throws(PackedGEMMError) {
    for (name, value) in [("m", m), ("n", n), ("k", k)] where value < 0 {
      throw .negativeDimension(name: name, value: value)
    }
    try checkBuffer("a", count: a.count, rows: transposeA ? k : m, columns: transposeA ? m : k, leading: lda)
    try checkBuffer("b", count: b.count, rows: transposeB ? n : k, columns: transposeB ? k : n, leading: ldb)
    try checkBuffer("c", count: c.count, rows: m, columns: n, leading: ldc)
    guard m > 0 && n > 0 else { return }
    if k == 0 {
      for row in 0..<m { for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] } }
      return
    }
    packedSGEMM(
      transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a.baseAddress!, lda: lda,
      b: b.baseAddress!, ldb: ldb, c: c.baseAddress!, ldc: ldc, beta: beta, precision: precision)
  }

  static func checkBuffer(
    _ name: String, count buffer: Int, rows: Int, columns: Int, leading: Int
  ) throws(PackedGEMMError) {
    guard leading >= max(1, columns) else {
      throw .leadingDimensionTooSmall(matrix: name, leadingDimension: leading, minimum: max(1, columns))
    }
    let required = rows > 0 && columns > 0 ? (rows - 1) * leading + columns : 0
    guard buffer >= required else { throw .bufferTooSmall(matrix: name, count: buffer, required: required) }
  }
}

/// An invalid argument to `PackedGEMM.multiply`.
package enum PackedGEMMError: Error, Equatable, CustomStringConvertible {
  /// A matrix dimension (`m`, `n` or `k`) is negative.
  case negativeDimension(name: String, value: Int)
  /// The leading dimension of `matrix` ("a", "b" or "c") is smaller than its stored row length.
  case leadingDimensionTooSmall(matrix: String, leadingDimension: Int, minimum: Int)
  /// The buffer of `matrix` holds `count` floats but the shape and leading dimension need `required`.
  case bufferTooSmall(matrix: String, count: Int, required: Int)
  /// A tensor given as a matrix is not rank 2.
  case notAMatrix([Int])

  /// A one-line explanation naming the argument.
  package var description: String {
    switch self {
    case .negativeDimension(let name, let value): "PackedGEMM: dimension \(name) is negative (\(value))"
    case .leadingDimensionTooSmall(let matrix, let leading, let minimum):
      "PackedGEMM: leading dimension of \(matrix) is \(leading), needs at least \(minimum)"
    case .bufferTooSmall(let matrix, let count, let required):
      "PackedGEMM: buffer \(matrix) holds \(count) floats, needs \(required)"
    case .notAMatrix(let shape): "PackedLeftMatrix: tensor of shape \(shape) is not a matrix (rank 2)"
    }
  }
}
