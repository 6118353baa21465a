internal import CTensorKernels
import Synchronization

/// Reusable packing buffers for the packed GEMM (each `bld_sgemm_bf16_avx512_scratch_floats()` floats,
/// ~9.8 MB of address space; the fp32 kernel touches only its first ~6.5 MB).
///
/// A GEMM thread takes a buffer for the duration of one call and gives it back, so steady state holds
/// one buffer per concurrently running GEMM thread and nothing is allocated (or page-faulted) per call.
/// At most `retainedLimit` idle buffers are kept.
final class GEMMScratchPool: Sendable {
  /// The process-wide pool.
  static let shared = GEMMScratchPool()

  /// Idle buffers, stored as addresses so the mutex holds only `Sendable` values.
  private let idle = Mutex<[UInt]>([])
  private let floatCount = max(bld_sgemm_avx512_scratch_floats(), bld_sgemm_bf16_avx512_scratch_floats())
  private let retainedLimit = 8

  /// Calls `body` with a scratch buffer large enough for either kernel.
  func withScratch<R>(_ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    let address = idle.withLock { $0.popLast() }
    let buffer: UnsafeMutablePointer<Float>
    if let address, let reused = UnsafeMutablePointer<Float>(bitPattern: address) {
      buffer = reused
    } else {
      buffer = UnsafeMutableRawPointer.allocate(byteCount: floatCount * 4, alignment: 64)
        .bindMemory(to: Float.self, capacity: floatCount)
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
