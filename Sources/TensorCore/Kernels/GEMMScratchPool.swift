internal import CTensorKernels
import Synchronization

/// Reusable packing buffers for the blocked GEMM (each large enough for any family's plan on this CPU, fp32 or
/// bf16: a few MB of address space, set by the cache blocking), also lent to the Winograd weight gradient's
/// transforms for their channel groups (`BLD_WINOGRAD_GROUP_SCRATCH_FLOATS`).
///
/// A GEMM thread takes a buffer for the duration of one call and gives it back, so steady state holds
/// one buffer per concurrently running GEMM thread and nothing is allocated (or page-faulted) per call.
/// At most `retainedLimit` idle buffers are kept.
final class GEMMScratchPool: Sendable {
  /// The process-wide pool.
  static let shared = GEMMScratchPool()

  /// Idle buffers, stored as addresses so the mutex holds only `Sendable` values.
  private let idle = Mutex<[UInt]>([])
  /// Floats of every buffer.
  let floatCount = max(
    Int(BLD_WINOGRAD_GROUP_SCRATCH_FLOATS),
    MatrixKernel.allCases.map { kernel in
      withUnsafePointer(to: GEMMPlan(kernel: kernel).raw) { bld_gemm_scratch_floats($0) }
    }.max() ?? 0)
  private let retainedLimit = 8

  /// Calls `body` with a scratch buffer large enough for any plan (and at least
  /// `BLD_WINOGRAD_GROUP_SCRATCH_FLOATS` floats).
  func withScratch<R>(_ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    let address = idle.withLock { $0.popLast() }
    let buffer: UnsafeMutablePointer<Float>
    if let address, let reused = UnsafeMutablePointer<Float>(bitPattern: address) {
      buffer = reused
    } else {
      let raw = UnsafeMutableRawPointer.allocate(byteCount: floatCount * 4, alignment: 64)
      AllocatorTuning.adviseHugePages(UnsafeMutableRawBufferPointer(start: raw, count: floatCount * 4))
      buffer = raw.bindMemory(to: Float.self, capacity: floatCount)
    }
    defer {
      let kept = idle.withLock { list -> Bool in
        guard list.count < retainedLimit else { return false }
        list.append(UInt(bitPattern: buffer))
        return true
      }
      if !kept { buffer.deallocate() }
    }
    return body(buffer)
  }
}
