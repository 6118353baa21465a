internal import CTensorKernels

/// Matrix product through TensorCore's blocked GEMM (`sgemm`), batched over leading axes.
///
/// `a`: `[..., M, K]` (or `[..., K, M]` with `transposeA`), `b`: `[..., K, N]` (or `[..., N, K]` with
/// `transposeB`) → `[..., M, N]`. Leading axes must match exactly, or `b` may be rank 2 and is then shared
/// by every batch.
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
  precondition(a.rank >= 2 && b.rank >= 2, "matmul needs rank ≥ 2, got \(a.shape) and \(b.shape)")
  let m = transposeA ? a.shape[a.rank - 1] : a.shape[a.rank - 2]
  let k = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1]
  let kb = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]
  let n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
  precondition(
    k == kb, "matmul inner extents differ: \(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "")")
  let batchShape = Array(a.shape.dropLast(2))
  let sharedB = b.rank == 2
  precondition(sharedB || Array(b.shape.dropLast(2)) == batchShape, "matmul batch axes differ: \(a.shape) × \(b.shape)")
  let batch = batchShape.reduce(1, *)
  return Tensor(shape: batchShape + [m, n]) { out in
    a.withUnsafeBufferPointer { x in
      b.withUnsafeBufferPointer { y in
        for index in 0..<batch {
          sgemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
            a: x.baseAddress! + index * m * k, lda: transposeA ? m : k,
            b: y.baseAddress! + (sharedB ? 0 : index * k * n), ldb: transposeB ? k : n,
            c: out.baseAddress! + index * m * n, ldc: n, beta: 0)
        }
      }
    }
  }
}

/// A fully connected layer over the last axis: `x · weightᵀ + bias`.
///
/// `x`: `[..., inputCount]`, `weight`: `[outputCount, inputCount]` (PyTorch `nn.Linear` layout),
/// `bias`: `[outputCount]` or nil → `[..., outputCount]`.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
  precondition(weight.rank == 2 && x.shape.last == weight.shape[1], "linear: input \(x.shape), weight \(weight.shape)")
  let inputCount = weight.shape[1]
  let outputCount = weight.shape[0]
  let rows = x.count / max(inputCount, 1)
  return Tensor(shape: Array(x.shape.dropLast()) + [outputCount]) { out in
    if let bias {
      precondition(bias.shape == [outputCount], "linear: bias \(bias.shape) for \(outputCount) outputs")
      bias.withUnsafeBufferPointer { b in
        for row in 0..<rows { (out.baseAddress! + row * outputCount).update(from: b.baseAddress!, count: outputCount) }
      }
    }
    x.withUnsafeBufferPointer { input in
      weight.withUnsafeBufferPointer { w in
        sgemm(
          transposeA: false, transposeB: true, m: rows, n: outputCount, k: inputCount,
          a: input.baseAddress!, lda: inputCount, b: w.baseAddress!, ldb: inputCount,
          c: out.baseAddress!, ldc: outputCount, beta: bias == nil ? 0 : 1)
      }
    }
  }
}

/// ``linear(_:weight:bias:)`` with the weight as stored: a weight kept at half width (fp16 or bf16, in memory or
/// mapped from its file) is widened panel by panel straight into the product's packed panels instead of into a
/// float32 copy first; other weights are read as float32. Both read the same float32 values; only the order in
/// which threads split the sums may differ.
///
/// `x`: `[..., inputCount]`, `weight`: `[outputCount, inputCount]`, `bias`: `[outputCount]` or nil →
/// `[..., outputCount]`.
public func linear(_ x: Tensor, weight: StoredTensor, bias: Tensor?) -> Tensor {
  precondition(
    weight.shape.count == 2 && x.shape.last == weight.shape[1], "linear: input \(x.shape), weight \(weight.shape)")
  let (outputCount, inputCount) = (weight.shape[0], weight.shape[1])
  let rows = x.count / max(inputCount, 1)
  if let bias {
    precondition(bias.shape == [outputCount], "linear: bias \(bias.shape) for \(outputCount) outputs")
  }
  guard halfPrecisionRightOperandFits(m: rows, n: outputCount, k: inputCount) else {
    return linear(x, weight: weight.tensor, bias: bias)
  }
  let product = weight.withHalfPrecisionBits { bits, isBFloat16 in
    precondition(bld_in_parallel_region() == 0, "BLAS called inside a TensorCore parallel region")
    return Tensor(shape: Array(x.shape.dropLast()) + [outputCount]) { out in
      if let bias {
        bias.withUnsafeBufferPointer { b in
          for row in 0..<rows {
            (out.baseAddress! + row * outputCount).update(from: b.baseAddress!, count: outputCount)
          }
        }
      }
      x.withUnsafeBufferPointer { input in
        packedSGEMMWithHalfPrecisionB(
          m: rows, n: outputCount, k: inputCount, a: input.baseAddress!, lda: inputCount, bits: bits,
          bfloat16: isBFloat16, c: out.baseAddress!, ldc: outputCount, beta: bias == nil ? 0 : 1,
          precision: ComputeOptions.matrixPrecision)
      }
    }
  }
  return product ?? linear(x, weight: weight.tensor, bias: bias)
}

/// `C = op(A)·op(B) + beta·C` in row-major order, using `ComputeOptions.threadCount` threads and
/// `ComputeOptions.matrixPrecision`, on the micro-kernel family of `ComputeOptions.matrixKernel`
/// (`packedSGEMM`; OpenBLAS only where the CPU has neither AVX2 + FMA nor AVX-512).
///
/// - Precondition: not called from inside a `parallelChunks` body (both run their own threads; nesting them in
///   ours would oversubscribe the cores).
func sgemm(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float
) {
  precondition(bld_in_parallel_region() == 0, "BLAS called inside a TensorCore parallel region")
  guard m > 0 && n > 0 else { return }
  if k == 0 {
    for row in 0..<m { for column in 0..<n { c[row * ldc + column] *= beta } }
    return
  }
  packedSGEMM(
    transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
    c: c, ldc: ldc, beta: beta, precision: ComputeOptions.matrixPrecision)
}
