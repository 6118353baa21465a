import Synchronization

/// Reusable scratch buffers, so repeated operations neither allocate nor page-fault megabytes per call (fresh
/// pages cost a fault each, and glibc returns large freed blocks to the system). Concurrent callers (threads
/// that each transform their own Winograd blocks) each take one; up to `retainedLimit` idle buffers are kept.
final class ReusableScratch: Sendable {
  /// The Winograd convolutions' transformed blocks.
  static let winograd = ReusableScratch()
  /// op(B) packed once for a GEMM split by rows (`PackedGEMM`).
  static let sharedPanels = ReusableScratch()
  /// `conv2d`'s im2col matrix on the OpenBLAS path.
  static let im2colColumns = ReusableScratch()

  /// The idle buffers (address and capacity in floats).
  private let idle = Mutex<[(address: UInt, capacity: Int)]>([])
  /// The most idle buffers kept: one per thread of a machine with up to 16 threads taking its own.
  private let retainedLimit = 16

  /// Calls `body` with at least `floats` floats of 64-byte-aligned scratch: the smallest idle buffer that is
  /// large enough, else a new one (replacing the largest idle buffer, which is too small).
  func withBuffer<R>(floats: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    let taken = idle.withLock { list -> (address: UInt, capacity: Int)? in
      guard !list.isEmpty else { return nil }
      let fitting = list.indices.filter { list[$0].capacity >= floats }
      let index =
        fitting.min { list[$0].capacity < list[$1].capacity }
        ?? list.indices.max { list[$0].capacity < list[$1].capacity }!
      return list.remove(at: index)
    }
    var buffer: UnsafeMutablePointer<Float>
    var capacity: Int
    if let taken, taken.capacity >= floats, let reused = UnsafeMutablePointer<Float>(bitPattern: taken.address) {
      (buffer, capacity) = (reused, taken.capacity)
    } else {
      if let taken { UnsafeMutablePointer<Float>(bitPattern: taken.address)?.deallocate() }
      capacity = max(floats, 1)
      let raw = UnsafeMutableRawPointer.allocate(byteCount: capacity * 4, alignment: 64)
      AllocatorTuning.adviseHugePages(UnsafeMutableRawBufferPointer(start: raw, count: capacity * 4))
      buffer = raw.bindMemory(to: Float.self, capacity: capacity)
    }
    defer {
      let kept = idle.withLock { list -> Bool in
        guard list.count < retainedLimit else { return false }
        list.append((UInt(bitPattern: buffer), capacity))
        return true
      }
      if !kept { buffer.deallocate() }
    }
    return body(buffer)
  }
}
