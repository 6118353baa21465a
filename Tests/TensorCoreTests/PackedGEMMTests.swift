import Foundation
import TensorCore
import Testing
import _TestSupport

/// A deterministic pseudo-random generator (SplitMix64) for test data.
struct KernelTestRandom {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// A float uniform in [-1, 1).
  mutating func nextFloat() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
  mutating func floats(_ count: Int) -> [Float] { (0..<count).map { _ in nextFloat() } }
}

/// One GEMM case: shapes, transposes, beta and padding of every leading dimension.
struct GEMMCase: CustomStringConvertible, Sendable {
  var m: Int, n: Int, k: Int
  var transposeA = false, transposeB = false
  var beta: Float = 0
  var padding = 0
  var description: String {
    "m=\(m) n=\(n) k=\(k) tA=\(transposeA) tB=\(transposeB) beta=\(beta) pad=\(padding)"
  }
}

/// Runs `PackedGEMM.multiply` and compares every element with a double-precision reference; returns the
/// worst error relative to the element's `Σ|a·b| + |beta·c|` (the fp32 rounding scale) .
func packedGEMMWorstError(_ test: GEMMCase, seed: UInt64 = 1, precision: GEMMPrecision = .float32) throws -> Double {
  let (m, n, k) = (test.m, test.n, test.k)
  let lda = (test.transposeA ? m : k) + test.padding
  let ldb = (test.transposeB ? k : n) + test.padding
  let ldc = n + test.padding
  var random = KernelTestRandom(seed: seed)
  let a = random.floats(max(1, (test.transposeA ? k : m) * lda))
  let b = random.floats(max(1, (test.transposeB ? n : k) * ldb))
  let original = random.floats(max(1, m * ldc))
  var c = original
  try a.withUnsafeBufferPointer { a in
    try b.withUnsafeBufferPointer { b in
      try c.withUnsafeMutableBufferPointer { c in
        try PackedGEMM.multiply(
          transposeA: test.transposeA, transposeB: test.transposeB, m: m, n: n, k: k, a: a, lda: lda,
          b: b, ldb: ldb, c: c, ldc: ldc, beta: test.beta, precision: precision)
      }
    }
  }
  var worst = 0.0
  for i in 0..<m {
    for j in 0..<n {
      var sum = 0.0
      var scale = 1e-30
      for l in 0..<k {
        let x = Double(test.transposeA ? a[l * lda + i] : a[i * lda + l])
        let y = Double(test.transposeB ? b[j * ldb + l] : b[l * ldb + j])
        sum += x * y
        scale += abs(x * y)
      }
      let prior = Double(original[i * ldc + j]) * Double(test.beta)
      sum += prior
      scale += abs(prior)
      worst = max(worst, abs(Double(c[i * ldc + j]) - sum) / scale)
    }
    // Padding columns of C are never written.
    for j in n..<ldc where c[i * ldc + j] != original[i * ldc + j] { return .infinity }
  }
  return worst
}

@Suite("PackedGEMM")
struct PackedGEMMTests {
  static let shapes: [(Int, Int, Int)] = [
    (1, 1, 1), (13, 37, 29), (300, 77, 1000), (14, 32, 256), (15, 33, 257), (29, 65, 600), (2, 3, 4),
    (300, 40, 1000), (100, 5, 300), (1000, 17, 7), (50, 33, 20), (200, 4100, 3), (64, 64, 0), (5, 1, 513),
  ]

  @Test("matches a double-precision reference for many shapes, transposes, beta and padding", arguments: [1, 2])
  func matchesReference(threads: Int) throws {
    try ComputeOptions.withThreadCount(threads) {
      for (m, n, k) in Self.shapes {
        for transposeA in [false, true] {
          for transposeB in [false, true] {
            for beta: Float in [0, 1, 0.5] {
              let test = GEMMCase(
                m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, beta: beta,
                padding: (m + n) % 3 + (transposeA ? 1 : 0))
              let error = try packedGEMMWorstError(test)
              #expect(error <= 2e-6, "\(test): worst relative error \(error)")
            }
          }
        }
      }
    }
  }

  @Test("large products split across two threads match the reference")
  func largeTwoThreads() throws {
    try ComputeOptions.withThreadCount(2) {
      for test in [
        GEMMCase(m: 333, n: 4200, k: 300), GEMMCase(m: 700, n: 45, k: 520, transposeA: true),
        GEMMCase(m: 520, n: 300, k: 700, transposeB: true, beta: 1, padding: 5),
      ] {
        let error = try packedGEMMWorstError(test, seed: 7)
        #expect(error <= 2e-6, "\(test): worst relative error \(error)")
      }
    }
  }

  @Test("bf16 precision stays within bf16 rounding and really rounds when the CPU supports it")
  func bfloat16Accuracy() throws {
    try ComputeOptions.withThreadCount(2) {
      var worst = 0.0
      for (m, n, k) in [(13, 37, 29), (300, 77, 1000), (300, 40, 1000), (15, 33, 257), (1, 1, 1)] {
        for (transposeA, transposeB) in [(false, false), (true, true), (false, true)] {
          let test = GEMMCase(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, beta: 1, padding: 1)
          let error = try packedGEMMWorstError(test, precision: .bfloat16)
          worst = max(worst, error)
          // Two roundings to 8 significant bits: at most ~2 * 2^-8 of Σ|a·b| per element.
          #expect(error <= 8e-3, "\(test): worst relative error \(error)")
        }
      }
      if PackedGEMM.supportsBFloat16 {
        #expect(worst > 1e-5, "bf16 requested but the error \(worst) looks like fp32")
      } else {
        #expect(worst <= 2e-6, "without AVX512_BF16 the request falls back to fp32, error \(worst)")
      }
    }
  }

  @Test(
    "a pre-packed left operand gives the same product as packing per call, in both precisions",
    arguments: [1, 2], [GEMMPrecision.float32, .bfloat16])
  func prepackedLeft(threads: Int, precision: GEMMPrecision) throws {
    try ComputeOptions.withThreadCount(threads) {
      for (m, n, k) in [(1, 1, 1), (13, 37, 29), (320, 300, 600), (29, 5, 300), (300, 40, 1000), (7, 70, 0)] {
        for (transposed, transposeB) in [(false, false), (true, true), (false, true)] {
          var random = KernelTestRandom(seed: UInt64(m * 31 + n))
          let a = Tensor(shape: transposed ? [k, m] : [m, k], scalars: random.floats(m * k))
          let ldb = (transposeB ? k : n) + 2
          let b = random.floats(max(1, (transposeB ? n : k) * ldb))
          let initial = random.floats(m * n)
          var expected = initial
          var actual = initial
          let packed = try PackedLeftMatrix(a, transposed: transposed)
          #expect(packed.rows == m && packed.depth == k)
          try a.withUnsafeBufferPointer { x in
            try b.withUnsafeBufferPointer { y in
              try expected.withUnsafeMutableBufferPointer { c in
                try PackedGEMM.multiply(
                  transposeA: transposed, transposeB: transposeB, m: m, n: n, k: k, a: x,
                  lda: max(1, transposed ? m : k), b: y, ldb: ldb, c: c, ldc: n, beta: 0.5, precision: precision)
              }
              try actual.withUnsafeMutableBufferPointer { c in
                try PackedGEMM.multiply(
                  packed, transposeB: transposeB, n: n, b: y, ldb: ldb, c: c, ldc: n, beta: 0.5, precision: precision)
              }
            }
          }
          let comparison = TensorComparison(
            Tensor(shape: [m, n], scalars: actual), Tensor(shape: [m, n], scalars: expected))
          let limit = PackedGEMM.isAccelerated ? 0 : 1e-5
          #expect(
            comparison.isClose(relative: limit), "m=\(m) n=\(n) k=\(k) tA=\(transposed) tB=\(transposeB): \(comparison)"
          )
        }
      }
      #expect(throws: PackedGEMMError.notAMatrix([2, 3, 4])) { try PackedLeftMatrix(Tensor(shape: [2, 3, 4])) }
    }
  }

  @Test("agrees with OpenBLAS (matmul under MatrixKernel.blas) on a batched-free product")
  func agreesWithMatmul() throws {
    var random = KernelTestRandom(seed: 3)
    let a = Tensor(shape: [97, 130], scalars: random.floats(97 * 130))
    let b = Tensor(shape: [61, 130], scalars: random.floats(61 * 130))
    let expected = ComputeOptions.withMatrixKernel(.blas) { matmul(a, b, transposeB: true) }
    var out = [Float](repeating: .nan, count: 97 * 61)
    try a.withUnsafeBufferPointer { x in
      try b.withUnsafeBufferPointer { y in
        try out.withUnsafeMutableBufferPointer { c in
          try PackedGEMM.multiply(
            transposeA: false, transposeB: true, m: 97, n: 61, k: 130, a: x, lda: 130, b: y, ldb: 130,
            c: c, ldc: 61, beta: 0)
        }
      }
    }
    let comparison = TensorComparison(Tensor(shape: [97, 61], scalars: out), expected)
    #expect(comparison.isClose(relative: 1e-5), "\(comparison)")
  }

  @Test("beta = 0 overwrites NaN in C; k = 0 scales C by beta")
  func betaSemantics() throws {
    let a: [Float] = [1, 2, 3, 4]
    let b: [Float] = [1, 0, 0, 1]
    var c: [Float] = [.nan, .nan, .nan, .nan]
    try a.withUnsafeBufferPointer { a in
      try b.withUnsafeBufferPointer { b in
        try c.withUnsafeMutableBufferPointer { c in
          try PackedGEMM.multiply(
            transposeA: false, transposeB: false, m: 2, n: 2, k: 2, a: a, lda: 2, b: b, ldb: 2, c: c, ldc: 2, beta: 0)
        }
      }
    }
    #expect(c == [1, 2, 3, 4])
    try a.withUnsafeBufferPointer { a in
      try b.withUnsafeBufferPointer { b in
        try c.withUnsafeMutableBufferPointer { c in
          try PackedGEMM.multiply(
            transposeA: false, transposeB: false, m: 2, n: 2, k: 0, a: a, lda: 2, b: b, ldb: 2, c: c, ldc: 2,
            beta: 0.5)
        }
      }
    }
    #expect(c == [0.5, 1, 1.5, 2])
  }

  @Test("bad arguments throw errors naming the matrix")
  func argumentErrors() {
    let small = [Float](repeating: 1, count: 6)
    var out = [Float](repeating: 0, count: 4)
    func run(m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int) throws(PackedGEMMError) {
      try small.withUnsafeBufferPointer { (a: UnsafeBufferPointer<Float>) throws(PackedGEMMError) in
        try out.withUnsafeMutableBufferPointer { (c: inout UnsafeMutableBufferPointer<Float>) throws(PackedGEMMError) in
          try PackedGEMM.multiply(
            transposeA: false, transposeB: false, m: m, n: n, k: k, a: a, lda: lda, b: a, ldb: ldb, c: c, ldc: ldc,
            beta: 0)
        }
      }
    }
    #expect(throws: PackedGEMMError.negativeDimension(name: "k", value: -1)) {
      try run(m: 2, n: 2, k: -1, lda: 2, ldb: 2, ldc: 2)
    }
    #expect(throws: PackedGEMMError.leadingDimensionTooSmall(matrix: "a", leadingDimension: 2, minimum: 3)) {
      try run(m: 2, n: 2, k: 3, lda: 2, ldb: 2, ldc: 2)
    }
    #expect(throws: PackedGEMMError.bufferTooSmall(matrix: "b", count: 6, required: 8)) {
      try run(m: 1, n: 2, k: 4, lda: 4, ldb: 2, ldc: 2)
    }
    #expect(throws: PackedGEMMError.bufferTooSmall(matrix: "c", count: 4, required: 6)) {
      try run(m: 2, n: 3, k: 1, lda: 1, ldb: 3, ldc: 3)
    }
  }
}
