internal import COpenBLAS
internal import CTensorKernels

/// Floats a pre-packed `m × k` left operand occupies (plain `m × k` when the CPU lacks AVX-512).
func packedLeftFloats(m: Int, k: Int) -> Int {
  packedGEMMIsAvailable ? bld_sgemm_avx512_packed_a_floats(m, k) : m * k
}

/// Packs op(A) (`m × k`) into `destination` (`packedLeftFloats(m:k:)` floats): the kernel's panel layout
/// with AVX-512, otherwise a plain row-major copy of op(A) for OpenBLAS.
func packLeft(
  transposeA: Bool, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, into destination: UnsafeMutablePointer<Float>
) {
  guard m > 0 && k > 0 else { return }
  if packedGEMMIsAvailable {
    bld_sgemm_avx512_pack_a_f32(transposeA ? 1 : 0, m, k, a, lda, destination)
  } else {
    for row in 0..<m {
      for column in 0..<k { destination[row * k + column] = transposeA ? a[column * lda + row] : a[row * lda + column] }
    }
  }
}

/// `C = A·op(B) + beta·C` with A pre-packed by `packLeft`, on `ComputeOptions.threadCount` threads
/// (the rows or the columns of C are split; A is shared, never re-packed), in `precision`.
func prepackedSGEMM(
  packedA: UnsafePointer<Float>, m: Int, n: Int, k: Int, transposeB: Bool, b: UnsafePointer<Float>, ldb: Int,
  c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, precision: GEMMPrecision = ComputeOptions.matrixPrecision
) {
  guard m > 0 && n > 0 else { return }
  guard packedGEMMIsAvailable else {
    sgemm(
      transposeA: false, transposeB: transposeB, m: m, n: n, k: k, a: packedA, lda: max(k, 1), b: b, ldb: ldb,
      c: c, ldc: ldc, beta: beta)
    return
  }
  let rowTiles = (m + microTileRows - 1) / microTileRows
  let columnTiles = (n + microTileColumns - 1) / microTileColumns
  let minimumWork = 1 << 20
  if columnTiles >= rowTiles {
    parallelChunks(columnTiles, costPerItem: microTileColumns * m * max(k, 1), minimumWork: minimumWork) { tiles in
      let first = tiles.lowerBound * microTileColumns
      let last = min(n, tiles.upperBound * microTileColumns)
      prepackedSGEMMBlock(
        packedA: packedA, m: m, rows: 0..<m, n: last - first, k: k, transposeB: transposeB,
        b: transposeB ? b + first * ldb : b + first, ldb: ldb, c: c + first, ldc: ldc, beta: beta,
        precision: precision)
    }
  } else {
    parallelChunks(rowTiles, costPerItem: microTileRows * n * max(k, 1), minimumWork: minimumWork) { tiles in
      let rows = (tiles.lowerBound * microTileRows)..<min(m, tiles.upperBound * microTileRows)
      prepackedSGEMMBlock(
        packedA: packedA, m: m, rows: rows, n: n, k: k, transposeB: transposeB, b: b, ldb: ldb, c: c, ldc: ldc,
        beta: beta, precision: precision)
    }
  }
}

/// Single-threaded fp32 `C = A·op(B) + beta·C` with A pre-packed by `packLeft` (for callers that parallelise
/// over many products themselves: the Winograd products, which stay fp32).
func prepackedSGEMMSingleThreaded(
  packedA: UnsafePointer<Float>, m: Int, n: Int, k: Int, transposeB: Bool, b: UnsafePointer<Float>, ldb: Int,
  c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float
) {
  guard m > 0 && n > 0 else { return }
  guard packedGEMMIsAvailable else {
    cblas_sgemm(
      CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
      packedA, Int32(max(k, 1)), b, Int32(ldb), beta, c, Int32(ldc))
    return
  }
  prepackedSGEMMBlock(
    packedA: packedA, m: m, rows: 0..<m, n: n, k: k, transposeB: transposeB, b: b, ldb: ldb, c: c, ldc: ldc,
    beta: beta, precision: .float32)
}

/// Rows `rows` (starting at a multiple of 14) of a pre-packed product, on the calling thread.
private func prepackedSGEMMBlock(
  packedA: UnsafePointer<Float>, m: Int, rows: Range<Int>, n: Int, k: Int, transposeB: Bool,
  b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, precision: GEMMPrecision
) {
  guard !rows.isEmpty && n > 0 else { return }
  let bfloat16: Int32 = precision == .bfloat16 && packedBFloat16GEMMIsAvailable ? 1 : 0
  GEMMScratchPool.shared.withScratch { scratch in
    bld_sgemm_avx512_prepacked_a_f32(
      m, n, k, packedA, rows.lowerBound, rows.upperBound, transposeB ? 1 : 0, b, ldb, beta, c, ldc, 1, scratch,
      bfloat16)
  }
}

/// A GEMM left operand (`m × k`, such as convolution weights `[O, C·kH·kW]`) packed once into the
/// AVX-512 micro-kernel's panel layout, so repeated products skip re-packing it.
///
/// Matches: `PackedGEMM.multiply` with the same `op(A)`, bit for bit (same blocking and summation order).
///
/// Limitations: only the left operand can be pre-packed (convolutions and Winograd; `Linear` weights are
/// the right operand). On CPUs without AVX-512 it stores a plain row-major copy used through OpenBLAS.
public struct PackedLeftMatrix: Sendable {
  /// Rows of `op(A)` (`m`).
  public let rows: Int
  /// Columns of `op(A)`, the reduction length (`k`).
  public let depth: Int
  /// The packed scalars.
  let storage: [Float]

  /// Packs a rank-2 tensor `[m, k]` (or `[k, m]` with `transposed`, then used as its transpose).
  ///
  /// - Throws: `PackedGEMMError.notAMatrix` when `matrix` is not rank 2.
  public init(_ matrix: Tensor, transposed: Bool = false) throws(PackedGEMMError) {
    guard matrix.rank == 2 else { throw .notAMatrix(matrix.shape) }
    let (m, k) = transposed ? (matrix.shape[1], matrix.shape[0]) : (matrix.shape[0], matrix.shape[1])
    rows = m
    depth = k
    let count = packedLeftFloats(m: m, k: k)
    storage = matrix.withUnsafeBufferPointer { a in
      [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        if count > 0 {
          buffer.initialize(repeating: 0)
          packLeft(transposeA: transposed, m: m, k: k, a: a.baseAddress!, lda: max(matrix.shape[1], 1), into: buffer.baseAddress!)
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
  public static func multiply(
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
        packedA: packed.baseAddress!, m: m, n: n, k: k, transposeB: transposeB, b: b.baseAddress!, ldb: ldb,
        c: c.baseAddress!, ldc: ldc, beta: beta, precision: precision)
    }
  }
}
