import Foundation
import TensorCore
import Testing
import _TestSupport

/// The GEMM families (AVX2 + FMA, AVX-512) and the plan chosen from what the CPU reports.
@Suite("GEMM kernel families and blocking")
struct MatrixKernelTests {
  /// The families this CPU runs (OpenBLAS excluded).
  static let families = MatrixKernel.allCases.filter { $0 != .blas && $0.isSupported }

  static let cases: [GEMMCase] = [
    GEMMCase(m: 1, n: 1, k: 1), GEMMCase(m: 7, n: 5, k: 3), GEMMCase(m: 33, n: 47, k: 300),
    GEMMCase(m: 64, n: 64, k: 64, transposeA: true), GEMMCase(m: 50, n: 70, k: 129, transposeB: true),
    GEMMCase(m: 29, n: 100, k: 600, transposeA: true, transposeB: true, beta: 0.5, padding: 3),
    GEMMCase(m: 300, n: 17, k: 700, beta: 1, padding: 1), GEMMCase(m: 5, n: 513, k: 40),
    GEMMCase(m: 1100, n: 40, k: 90),
  ]

  @Test("every family matches a double-precision reference", arguments: families)
  func familyMatchesReference(kernel: MatrixKernel) throws {
    try ComputeOptions.withMatrixKernel(kernel) {
      #expect(ComputeOptions.matrixKernel == kernel)
      for test in Self.cases {
        let worst = try packedGEMMWorstError(test)
        #expect(worst < 1e-6, "\(kernel) \(test): \(worst)")
      }
    }
  }

  @Test(
    "the AVX2 and AVX-512 families give bit-identical products (same KC, same FMA chains)",
    .enabled(if: families.count > 1, "needs a CPU with both AVX2 and AVX-512"))
  func familiesAgreeBitForBit() throws {
    var random = KernelTestRandom(seed: 7)
    for test in Self.cases {
      let a = Tensor(
        shape: test.transposeA ? [test.k, test.m] : [test.m, test.k], scalars: random.floats(test.m * test.k))
      let b = Tensor(
        shape: test.transposeB ? [test.n, test.k] : [test.k, test.n], scalars: random.floats(test.k * test.n))
      let products = Self.families.map { kernel in
        ComputeOptions.withMatrixKernel(kernel) {
          matmul(a, b, transposeA: test.transposeA, transposeB: test.transposeB)
        }
      }
      #expect(products[0].scalars == products[1].scalars, "\(test)")
    }
  }

  @Test(
    "rows in a product's bottom edge panel equal the same rows computed in full panels, bit for bit",
    arguments: families)
  func edgeRowsMatchFullPanels(kernel: MatrixKernel) {
    // 420 rows fill whole panels of every family (MR 6 or 14); the first m rows of a shorter product end in a
    // partial panel, which the edge kernel computes. Both sum each element over k in the same order.
    var random = KernelTestRandom(seed: 11)
    let (rows, n, k) = (420, 70, 300)
    let a = Tensor(shape: [rows, k], scalars: random.floats(rows * k))
    let b = Tensor(shape: [k, n], scalars: random.floats(k * n))
    ComputeOptions.withMatrixKernel(kernel) {
      let full = matmul(a, b)
      for m in [1, 2, 5, 7, 13, 15, 20, 27, 33] {
        let top = matmul(a.sliced(axis: 0, 0..<m), b)
        #expect(top.scalars == Array(full.scalars.prefix(m * n)), "\(kernel) m=\(m)")
      }
    }
  }

  @Test("a pre-packed operand keeps the family that packed it")
  func packedOperandKeepsItsFamily() throws {
    var random = KernelTestRandom(seed: 3)
    let (m, n, k) = (45, 70, 333)
    let a = Tensor(shape: [m, k], scalars: random.floats(m * k))
    let b = random.floats(k * n)
    for packing in Self.families {
      let packed = try ComputeOptions.withMatrixKernel(packing) { try PackedLeftMatrix(a) }
      for running in MatrixKernel.allCases where running.isSupported {
        var c = [Float](repeating: .nan, count: m * n)
        try ComputeOptions.withMatrixKernel(running) {
          try b.withUnsafeBufferPointer { b in
            try c.withUnsafeMutableBufferPointer { c in
              try PackedGEMM.multiply(packed, transposeB: false, n: n, b: b, ldb: n, c: c, ldc: n, beta: 0)
            }
          }
        }
        let expected = ComputeOptions.withMatrixKernel(packing) { matmul(a, Tensor(shape: [k, n], scalars: b)) }
        #expect(c == expected.scalars, "packed with \(packing), run under \(running)")
      }
    }
  }

  @Test("Winograd convolutions agree across families", .enabled(if: families.count > 1, "needs AVX2 and AVX-512"))
  func winogradAcrossFamilies() throws {
    var random = KernelTestRandom(seed: 11)
    let input = Tensor(shape: [1, 24, 13, 17], scalars: random.floats(24 * 13 * 17))
    let weight = Tensor(shape: [20, 24, 3, 3], scalars: random.floats(20 * 24 * 9))
    let outputs = try Self.families.map { kernel in
      try ComputeOptions.withMatrixKernel(kernel) {
        conv2d3x3Winograd(input, weights: try WinogradWeights(weight: weight), bias: nil)
      }
    }
    #expect(outputs[0].scalars == outputs[1].scalars)
    let direct = conv2d(input, weight: weight, bias: nil, stride: 1, padding: 1)
    #expect(TensorComparison(outputs[0], direct).isClose(relative: 1e-4))
  }

  @Test("OpenBLAS runs only when asked for: products are counted on the calling thread")
  func openBLASRouting() throws {
    var random = KernelTestRandom(seed: 5)
    let a = Tensor(shape: [40, 50], scalars: random.floats(2000))
    let b = Tensor(shape: [50, 30], scalars: random.floats(1500))
    let before = BLASRouting.callsOnCurrentThread
    let ours = matmul(a, b)
    if MatrixKernel.best != .blas { #expect(BLASRouting.callsOnCurrentThread == before) }
    let blas = ComputeOptions.withMatrixKernel(.blas) { matmul(a, b) }
    #expect(BLASRouting.callsOnCurrentThread == before + 1)
    #expect(TensorComparison(ours, blas).isClose(relative: 1e-5))
  }

  @Test("blocking follows the cache sizes it is given")
  func blockingFollowsCaches() throws {
    for kernel in Self.families {
      let tile = ProcessorDescription.current.gemmBlocking(for: kernel)
      // Skylake-SP / Zen 4-like core: 32 KiB L1d, 1 MiB L2, 1.375 MiB L3 per core.
      let small = ProcessorDescription.gemmBlocking(
        for: kernel, l1DataBytes: 32 << 10, l2Bytes: 1 << 20, l3BytesPerCore: 1_441_792)
      // Sapphire Rapids-like core: 48 KiB L1d, 2 MiB L2, 1.875 MiB L3 per core.
      let large = ProcessorDescription.gemmBlocking(
        for: kernel, l1DataBytes: 48 << 10, l2Bytes: 2 << 20, l3BytesPerCore: 1_966_080)
      for blocking in [small, large] {
        #expect(blocking.tileRows == tile.tileRows && blocking.tileColumns == tile.tileColumns)
        #expect(
          blocking.kc % 16 == 0 && blocking.mc % blocking.tileRows == 0 && blocking.nc % blocking.tileColumns == 0)
      }
      #expect(small.kc == 256 && large.kc == 384, "KC from L1: \(small.kc), \(large.kc)")
      // The B micro-panel fits L1, the A block fits L2, the B block fits the L3 share.
      #expect(small.kc * 32 * 4 <= 32 << 10 && small.mc * small.kc * 4 <= 1 << 20)
      #expect(small.kc * small.nc * 4 <= 1_441_792)
      #expect(large.mc > small.mc)
    }
    // The families share KC on every machine, so their products stay bit-identical.
    let kcs = Set(Self.families.map { ProcessorDescription.current.gemmBlocking(for: $0).kc })
    #expect(kcs.count <= 1)
  }

  @Test("both FMA chains measure a throughput on every family, none for OpenBLAS")
  func fmaPeakChains() {
    let processor = ProcessorDescription.current
    for kernel in Self.families {
      for chain in [ProcessorDescription.FMAChain.scaling, .accumulating] {
        let rate = processor.measuredFMAPeak(threads: 1, kernel: kernel, chain: chain, seconds: 0.02)
        #expect(rate.isFinite && rate > 0, "\(kernel) \(chain): \(rate)")
      }
    }
    #expect(processor.measuredFMAPeak(threads: 1, kernel: .blas, chain: .accumulating, seconds: 0.02) == 0)
  }

  @Test("the process's CPU limit is at least 1 and at most the host's processors")
  func processCPULimit() {
    let available = ComputeOptions.availableProcessorCount
    #expect(available >= 1 && available <= ProcessInfo.processInfo.processorCount)
    #expect(ProcessorDescription.current.affinityCPUs >= available || ProcessorDescription.current.cpuQuota != nil)
  }
}
