internal import CTensorKernels
import Dispatch
import Synchronization

/// What this CPU reports about itself and what this process may use of it: the facts every benchmark figure
/// is printed with, and the inputs of the GEMM's cache blocking.
package struct ProcessorDescription: Sendable {
  /// The CPU vendor string ("GenuineIntel", "AuthenticAMD", …).
  package let vendor: String
  /// The brand string ("Intel(R) Xeon(R) Platinum 8480+", …; some hypervisors report a generic one).
  package let modelName: String
  /// Display family and model from cpuid (e.g. 6 / 207 for Emerald Rapids, 25 / 17 for Zen 4 EPYC).
  package let family: Int
  package let model: Int
  /// Per-core L1 data and L2 sizes, the L3 size and how many logical CPUs share it (bytes).
  package let l1DataBytes: Int
  package let l2Bytes: Int
  package let l3Bytes: Int
  package let l3SharedBy: Int
  /// Instruction-set extensions the kernels use: "avx2+fma", "avx512", "avx512_bf16".
  package let instructionSets: [String]
  /// CPUs in this process's affinity mask, and its cgroup CPU quota rounded up (nil when none).
  package let affinityCPUs: Int
  package let cpuQuota: Int?

  /// This core's share of the L3 (its size over the CPUs sharing it), or the L2 where that is larger: the cache a
  /// working set of one thread can count on.
  package var l3Share: Int { max(l3Bytes / max(l3SharedBy, 1), l2Bytes) }

  /// This machine, read once.
  package static let current = ProcessorDescription()

  private init() {
    let cpu = bld_cpu().pointee
    vendor = withUnsafeBytes(of: cpu.vendor) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    modelName = withUnsafeBytes(of: cpu.brand) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    family = Int(cpu.family)
    model = Int(cpu.model)
    l1DataBytes = cpu.l1d_bytes
    l2Bytes = cpu.l2_bytes
    l3Bytes = cpu.l3_bytes
    l3SharedBy = cpu.l3_sharing
    var sets: [String] = []
    if cpu.has_avx2_fma != 0 { sets.append("avx2+fma") }
    if cpu.has_avx512 != 0 { sets.append("avx512") }
    if cpu.has_avx512_bf16 != 0 { sets.append("avx512_bf16") }
    instructionSets = sets
    var affinity: Int32 = 0
    var quota: Int32 = 0
    _ = bld_process_cpu_limit(&affinity, &quota)
    affinityCPUs = Int(affinity)
    cpuQuota = quota > 0 ? Int(quota) : nil
  }

  /// One line for logs: model, family/model, instruction sets and caches.
  package var summary: String {
    let sets = instructionSets.isEmpty ? "no AVX2" : instructionSets.joined(separator: " ")
    return "\(modelName) (\(vendor) family \(family) model \(model); \(sets); L1d \(l1DataBytes >> 10) KiB, "
      + "L2 \(l2Bytes >> 10) KiB, L3 \(l3Bytes >> 20) MiB)"
  }

  /// The GEMM blocking the plan of `kernel` uses on this CPU: register tile and KC / MC / NC blocks.
  package func gemmBlocking(for kernel: MatrixKernel) -> GEMMBlocking {
    GEMMBlocking(GEMMPlan(kernel: kernel).raw)
  }

  /// The blocking `kernel` would get on a CPU with these cache sizes (bytes; L3 as this core's share).
  package static func gemmBlocking(
    for kernel: MatrixKernel, l1DataBytes: Int, l2Bytes: Int, l3BytesPerCore: Int
  ) -> GEMMBlocking {
    var raw = GEMMPlan(kernel: kernel).raw
    bld_gemm_blocking(l1DataBytes, l2Bytes, l3BytesPerCore, &raw)
    return GEMMBlocking(raw)
  }

  /// How each chain of an FMA throughput measurement uses its last result.
  package enum FMAChain: Sendable {
    /// a = a·x + y: the result is the next multiplicand. The machine's plain FMA throughput.
    case scaling
    /// a = x·y + a: the result is the next addend, as in a GEMM micro-kernel, which sums its products into its
    /// accumulators. Where a CPU forwards a result to the addend more slowly, no GEMM goes past this rate: on
    /// Zen 4 it is ≈ 0.92 of `scaling`'s (117 against 128 GFLOP/s per thread, 8 to 28 chains alike).
    case accumulating
  }

  /// The measured FMA throughput of `threads` threads running at once (GFLOP/s, all threads together): 12
  /// independent FMA chains (`chain`) of the vectors of `kernel` per thread, best run of about `seconds`. This is
  /// the machine's arithmetic limit that GEMM-bound figures are compared with. 0 for `.blas` or without AVX2.
  package func measuredFMAPeak(
    threads: Int, kernel: MatrixKernel, chain: FMAChain = .scaling, seconds: Double = 0.5
  ) -> Double {
    let rates = Mutex<[Double]>([])
    DispatchQueue.concurrentPerform(iterations: max(1, threads)) { _ in
      let rate = bld_fma_peak_gflops(Int32(kernel.rawValue), chain == .accumulating ? 1 : 0, seconds)
      rates.withLock { $0.append(rate) }
    }
    return rates.withLock { $0.reduce(0, +) }
  }
}

/// The register tile and cache blocks of the GEMM on one CPU.
package struct GEMMBlocking: Sendable, Equatable {
  /// Rows of op(A) and columns of op(B) per micro-kernel tile.
  package let tileRows: Int
  package let tileColumns: Int
  /// The K, M and N cache blocks (the B micro-panel KC × NR stays in L1, the A block MC × KC in L2, the
  /// B block KC × NC in L3).
  package let kc: Int
  package let mc: Int
  package let nc: Int

  init(_ raw: bld_gemm_plan) {
    (tileRows, tileColumns, kc, mc, nc) = (raw.mr, raw.nr, raw.kc, raw.mc, raw.nc)
  }
}
