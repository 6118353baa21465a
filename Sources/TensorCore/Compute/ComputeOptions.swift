internal import CTensorKernels
import Dispatch
import Foundation
import Synchronization

/// The compute settings of TensorCore: the thread count and the vector instructions of its kernels.
///
/// Both are scoped, never process-wide: ``withThreadCount(_:_:)`` and ``withVectorExtensionLimit(_:_:)`` apply
/// to the work `body` starts on the calling thread or task (and the worker threads of its parallel loops), so
/// concurrent edits, tests and host code each keep their own. OpenBLAS (used only on CPUs without AVX2 + FMA)
/// keeps one process-wide thread count; TensorCore sets it to the caller's count before each OpenBLAS product
/// and never calls it from inside its own parallel regions, so the two never oversubscribe the cores.
public enum ComputeOptions {
  @TaskLocal static var boundThreadCount: Int? = nil

  /// The number of threads TensorCore's loops (and OpenBLAS products) started here use (at least 1):
  /// the count of the innermost ``withThreadCount(_:_:)``, else ``defaultThreadCount``.
  public static var threadCount: Int { boundThreadCount ?? defaultThreadCount }

  /// Runs `body` with `count` threads for the work it starts on the calling thread or task. Values below 1 mean
  /// ``defaultThreadCount``.
  public static func withThreadCount<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
    try $boundThreadCount.withValue(count >= 1 ? count : defaultThreadCount, operation: body)
  }

  /// The default thread count: `OMP_NUM_THREADS` or else `OPENBLAS_NUM_THREADS` when set to a positive
  /// integer, otherwise `availableProcessorCount` — the CPUs this process may actually use, not the host's.
  /// Read once per process.
  public static var defaultThreadCount: Int { processDefaultThreadCount }

  private static let processDefaultThreadCount: Int = {
    let environment = ProcessInfo.processInfo.environment
    for name in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"] {
      // OpenMP allows a comma-separated list per nesting level; the first entry is the outer level.
      if let text = environment[name]?.split(separator: ",").first,
        let count = Int(text.trimmingCharacters(in: .whitespaces)), count > 0
      {
        return count
      }
    }
    return availableProcessorCount
  }()

  /// The CPUs this process may use: the smaller of its CPU affinity mask (`sched_getaffinity`: `taskset`,
  /// cpusets, container pinning) and its CPU bandwidth quota rounded up (cgroup v2 `cpu.max` along the
  /// process's cgroup path, or cgroup v1 `cpu.cfs_quota_us`), at least 1.
  public static var availableProcessorCount: Int { Int(bld_process_cpu_limit(nil, nil)) }

  /// The widest vector instructions this CPU offers to TensorCore's own C kernels (OpenBLAS chooses its own).
  public static var supportedVectorExtension: VectorExtension {
    VectorExtension(rawValue: Int(bld_detected_simd_level())) ?? .portable
  }

  /// The vector instructions TensorCore's kernels use on the calling thread: the supported ones, capped by
  /// ``withVectorExtensionLimit(_:_:)``.
  public static var vectorExtension: VectorExtension {
    VectorExtension(rawValue: Int(bld_simd_level())) ?? .portable
  }

  /// Runs `body` with TensorCore's kernels capped at `limit` on the calling thread (and the workers of the
  /// parallel loops it starts), so every code path can be tested and compared on one machine. Results agree
  /// across levels within float rounding. `body` must not suspend: the cap belongs to the thread, not to a task.
  public static func withVectorExtensionLimit<R>(_ limit: VectorExtension, _ body: () throws -> R) rethrows -> R {
    let previous = bld_simd_limit()
    bld_set_simd_limit(Int32(limit.rawValue))
    defer { bld_set_simd_limit(previous) }
    return try body()
  }
}

/// The instruction-set levels of TensorCore's C kernels.
public enum VectorExtension: Int, Sendable, Comparable, CaseIterable {
  /// Portable C, whatever the compiler emits for the baseline target.
  case portable = 0
  /// x86-64 AVX2 with FMA (8 floats per vector).
  case avx2 = 1
  /// x86-64 AVX-512F (16 floats per vector).
  case avx512 = 2

  /// Orders levels from portable to widest.
  public static func < (a: VectorExtension, b: VectorExtension) -> Bool { a.rawValue < b.rawValue }
}

/// Runs `body(range)` over `count` items split into contiguous pieces, on up to `ComputeOptions.threadCount`
/// threads.
///
/// There are up to four pieces per thread (at least one per thread, at most `maximumPieces` beyond that),
/// handed out in order as threads become free, so a thread slowed by another process (a shared VM, a CPU
/// quota) takes fewer pieces instead of holding the others up; with more than two pieces per thread, later
/// pieces are smaller (`pieceStart`). Callers whose pieces repeat set-up work (a
/// GEMM re-packs the shared operand per piece) cap the count with `maximumPieces`. Pieces run
/// concurrently; `body` must only touch the part of the output its range owns and must not call BLAS (`sgemm`
/// checks this: every piece, threaded or not, runs marked as inside a parallel region). Small workloads
/// (`count * costPerItem` below `minimumWork`) run on the calling thread in one piece.
package func parallelChunks(
  _ count: Int, costPerItem: Int = 1, minimumWork: Int = 1 << 14, maximumPieces: Int = .max,
  _ body: (Range<Int>) -> Void
) {
  guard count > 0 else { return }
  let threads = min(ComputeOptions.threadCount, count)
  if threads <= 1 || count * costPerItem < minimumWork {
    bld_parallel_region_enter()
    body(0..<count)
    bld_parallel_region_leave()
    return
  }
  let pieces = min(count, threads * 4, max(threads, maximumPieces))
  let next = Atomic<Int>(0)
  let vectorLimit = bld_simd_limit()  // the caller's cap holds on every worker
  withoutActuallyEscaping(body) { escaping in
    // Each piece writes a disjoint range, and bld_parallel_run returns only after every worker finished.
    var region = ParallelRegion { _ in
      let workerLimit = bld_simd_limit()
      bld_set_simd_limit(vectorLimit)
      defer { bld_set_simd_limit(workerLimit) }
      bld_parallel_region_enter()
      while true {
        let piece = next.wrappingAdd(1, ordering: .relaxed).oldValue
        guard piece < pieces else { break }
        let range =
          pieceStart(
            piece, of: pieces, count: count, threads: threads)..<pieceStart(
            piece + 1, of: pieces, count: count, threads: threads)
        if !range.isEmpty { escaping(range) }
      }
      bld_parallel_region_leave()
    }
    withUnsafeMutablePointer(to: &region) { pointer in
      bld_parallel_run(
        threads,
        { context, worker in
          context!.assumingMemoryBound(to: ParallelRegion.self).pointee.work(worker)
        }, pointer)
    }
  }
}

/// Where piece `piece` of `pieces` starts in `0..<count` (`count` at `piece == pieces`).
///
/// With more pieces than twice the threads, piece sizes fall linearly from 1.75 to 0.25 times the mean, so the
/// pieces handed out last — the ones a thread waits on at the end of the region — are small (a tail of ≈ 3 % of
/// the work instead of ≈ 12 % with equal pieces, four per thread), without more pieces. Otherwise pieces are
/// equal (sizes differ by at most one item). Boundaries depend only on the arguments, never on timing, so
/// every run splits the work the same way.
package func pieceStart(_ piece: Int, of pieces: Int, count: Int, threads: Int) -> Int {
  guard piece > 0 else { return 0 }
  guard piece < pieces else { return count }
  guard pieces > 2 * threads && count >= 4 * pieces else { return piece * count / pieces }
  // Sizes f − (f − l)·p/(L − 1) with l = f/7; the start of piece p is the sum of the sizes before it.
  let (p, last) = (Double(piece), Double(pieces - 1))
  func sum(_ p: Double) -> Double { p - (6.0 / 7.0) * p * (p - 1) / (2 * last) }
  return min(count, Int((Double(count) * sum(p) / sum(Double(pieces))).rounded()))
}

/// The Swift side of one `bld_parallel_run` region: the closure each worker index runs.
private struct ParallelRegion {
  let work: (Int) -> Void
}
