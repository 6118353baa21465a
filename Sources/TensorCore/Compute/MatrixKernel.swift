internal import CTensorKernels

/// The micro-kernel family that runs TensorCore's matrix products (GEMMs of `matmul`, linear layers,
/// im2col and Winograd convolutions).
///
/// Every family computes each element of a product as the same chain of fused multiply-adds (the K blocking
/// is the same for all of them), so the AVX2 and AVX-512 kernels give bit-identical results on one machine;
/// `.blas` (OpenBLAS) sums in its own order.
package enum MatrixKernel: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
  /// OpenBLAS: only where the CPU has neither AVX2 + FMA nor AVX-512 (or when chosen explicitly).
  case blas = 0
  /// TensorCore's AVX2 + FMA kernel: 6 × 16 tiles in 12 ymm accumulators.
  case avx2 = 1
  /// TensorCore's AVX-512 kernel: 14 × 32 tiles in 28 zmm accumulators (bf16 products with AVX512_BF16).
  case avx512 = 2

  /// The widest family this CPU runs: the default of every product.
  package static var best: MatrixKernel {
    let cpu = bld_cpu().pointee
    return cpu.has_avx512 != 0 ? .avx512 : cpu.has_avx2_fma != 0 ? .avx2 : .blas
  }

  /// Whether this CPU runs the family.
  package var isSupported: Bool { self <= Self.best }

  /// "blas", "avx2" or "avx512".
  package var description: String {
    switch self {
    case .blas: "blas"
    case .avx2: "avx2"
    case .avx512: "avx512"
    }
  }

  /// Orders families from OpenBLAS to the widest.
  package static func < (a: MatrixKernel, b: MatrixKernel) -> Bool { a.rawValue < b.rawValue }
}

extension ComputeOptions {
  @TaskLocal static var boundMatrixKernel: MatrixKernel? = nil

  /// The family that runs the matrix products started by the current thread or task: `MatrixKernel.best`
  /// unless inside ``withMatrixKernel(_:_:)``.
  package static var matrixKernel: MatrixKernel { boundMatrixKernel ?? .best }

  /// Runs `body` with its matrix products on `kernel` (capped at what the CPU supports), on all compute
  /// threads. Scoped to `body` on the calling thread or task, like ``withMatrixPrecision(_:_:)``, so tests and
  /// diagnostics can compare families without changing what the rest of the process runs.
  package static func withMatrixKernel<R>(_ kernel: MatrixKernel, _ body: () throws -> R) rethrows -> R {
    try $boundMatrixKernel.withValue(min(kernel, .best), operation: body)
  }
}

/// The GEMM plan (family and cache blocking) for the products started now: `ComputeOptions.matrixKernel`
/// with blocks derived from this CPU's cache sizes. A packed left operand keeps the plan that packed it.
struct GEMMPlan: Sendable {
  let raw: bld_gemm_plan

  /// The plan for the current `ComputeOptions.matrixKernel`.
  static var current: GEMMPlan { GEMMPlan(kernel: ComputeOptions.matrixKernel) }

  init(kernel: MatrixKernel) { raw = bld_gemm_plan_for(Int32(kernel.rawValue)) }

  /// Whether products run through OpenBLAS (no micro-kernel family).
  var usesBLAS: Bool { raw.kernel == Int32(BLD_GEMM_NONE) }
  /// Register tile of the micro-kernel (rows of op(A), columns of op(B)); 1 × 1 for OpenBLAS.
  var tileRows: Int { max(1, raw.mr) }
  var tileColumns: Int { max(1, raw.nr) }
  /// Whether bf16 operands run here (AVX-512 family with AVX512_BF16).
  var supportsBFloat16: Bool { withUnsafePointer(to: raw) { bld_gemm_bf16_supported($0) != 0 } }

  /// Floats a pre-packed `m × k` left operand occupies (plain `m × k` for OpenBLAS).
  func packedLeftFloats(m: Int, k: Int) -> Int {
    usesBLAS ? m * k : withUnsafePointer(to: raw) { bld_gemm_packed_a_floats($0, m, k) }
  }

  /// Packs op(A) (`m × k`) into `destination` (`packedLeftFloats(m:k:)` floats): the family's panel layout,
  /// or a plain row-major copy of op(A) for OpenBLAS.
  func packLeft(
    transposeA: Bool, m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, into destination: UnsafeMutablePointer<Float>
  ) {
    guard m > 0 && k > 0 else { return }
    if usesBLAS {
      for row in 0..<m {
        for column in 0..<k {
          destination[row * k + column] = transposeA ? a[column * lda + row] : a[row * lda + column]
        }
      }
      return
    }
    // In parallel over row panels: a convolution packs its weight on every call, and a serial packing would
    // leave the other threads waiting.
    let panels = (m + tileRows - 1) / tileRows
    let plan = raw
    parallelChunks(panels, costPerItem: tileRows * k) { range in
      withUnsafePointer(to: plan) {
        bld_gemm_pack_a_f32($0, transposeA ? 1 : 0, m, k, a, lda, range.lowerBound, range.upperBound, destination)
      }
    }
  }

  /// `packLeft(transposeA: false, …)` for an `m × k` matrix stored at half width (IEEE half or bfloat16 bits):
  /// each row panel is widened into a small staging buffer and packed from there, so the matrix is never widened
  /// whole. The packed floats are those of widening it first. Needs a TensorCore kernel family.
  func packLeft(
    m: Int, k: Int, halfPrecisionBits bits: UnsafePointer<UInt16>, isBFloat16: Bool,
    into destination: UnsafeMutablePointer<Float>
  ) {
    precondition(!usesBLAS, "packLeft(halfPrecisionBits:) needs a TensorCore kernel family")
    guard m > 0 && k > 0 else { return }
    let panels = (m + tileRows - 1) / tileRows
    let (plan, rows) = (raw, tileRows)
    parallelChunks(panels, costPerItem: tileRows * k) { range in
      let staging = UnsafeMutablePointer<Float>.allocate(capacity: rows * k)
      defer { staging.deallocate() }
      withUnsafePointer(to: plan) {
        bld_gemm_pack_a_half(
          $0, m, k, bits, isBFloat16 ? 1 : 0, range.lowerBound, range.upperBound, staging, destination)
      }
    }
  }
}
