/// The arithmetic of TensorCore's matrix products (GEMMs of `matmul`, linear layers and im2col convolutions;
/// Winograd products always run in fp32).
public enum GEMMPrecision: Sendable, Equatable {
  /// fp32 inputs and accumulation (the default; the parity path).
  case float32
  /// Inputs rounded to bf16 (nearest even), products accumulated in fp32 with `vdpbf16ps` (AVX512_BF16).
  /// Measured 1.5–2× the fp32 GEMM throughput on this Zen 5 at UNet shapes, with ≈ 2e-3 error relative to
  /// `max|C|` (tested: ≤ 8e-3 of `Σ|a·b|` per element): not accurate enough for the 1e-4 parity tests.
  /// Falls back to `.float32` on CPUs without AVX512_BF16 (`PackedGEMM.supportsBFloat16`).
  case bfloat16
}

extension ComputeOptions {
  @TaskLocal static var boundMatrixPrecision = GEMMPrecision.float32

  /// The precision of the matrix products started by the current thread or task: `.float32` unless inside
  /// ``withMatrixPrecision(_:_:)``.
  public static var matrixPrecision: GEMMPrecision { boundMatrixPrecision }

  /// Runs `body` with its matrix products (the GEMMs of every `matmul`, `linear` and im2col `conv2d`, on all
  /// compute threads) in `precision`. Winograd convolutions (bf16 operands cost them 7 % error), element-wise
  /// kernels, norms, softmax and the fused attention kernel stay in fp32. The setting is scoped to `body` on the calling thread or task, so concurrent work elsewhere
  /// in the process keeps its own precision.
  public static func withMatrixPrecision<R>(_ precision: GEMMPrecision, _ body: () throws -> R) rethrows -> R {
    try $boundMatrixPrecision.withValue(precision, operation: body)
  }
}
