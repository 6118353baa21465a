internal import COpenBLAS
internal import CTensorKernels
import Synchronization

/// Row-major `C = op(A)·op(B) + beta·C` through OpenBLAS's `cblas_sgemm`: the products of CPUs without AVX2 +
/// FMA (or of `MatrixKernel.blas`). Every OpenBLAS product of the package goes through here and is counted on
/// the calling thread (`BLASRouting`), so tests can check that an edit never reaches OpenBLAS where
/// TensorCore's own kernels run — OpenBLAS's core detection is then off every hot path.
func openBLASSGEMM(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float
) {
  guard m > 0 && n > 0 else { return }
  if k == 0 {
    for row in 0..<m { for column in 0..<n { c[row * ldc + column] = beta == 0 ? 0 : beta * c[row * ldc + column] } }
    return
  }
  bld_note_blas_call()
  let threads = ComputeOptions.threadCount  // OpenBLAS's own count is process-wide: set it when it differs
  if openBLASThreadCount.exchange(threads, ordering: .relaxed) != threads { openblas_set_num_threads(Int32(threads)) }
  cblas_sgemm(
    CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
    Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// The thread count last handed to OpenBLAS (0: never).
private let openBLASThreadCount = Atomic<Int>(0)

/// Which library computed the products of the current thread.
package enum BLASRouting {
  /// Products handed to OpenBLAS by operations started on the calling thread since it began.
  package static var callsOnCurrentThread: Int { Int(bld_blas_calls_on_this_thread()) }
}
