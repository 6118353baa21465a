import Synchronization

/// One reusable scratch buffer, so repeated operations neither allocate nor page-fault megabytes per call
/// (fresh pages cost a fault each, and glibc returns large freed blocks to the system). Concurrent callers
/// that find it taken allocate their own.
final class ReusableScratch: Sendable {
  /// The Winograd convolutions' transformed blocks.
  static let winograd = ReusableScratch()
  /// op(B) packed once for a GEMM split by rows (`PackedGEMM`).
  static let sharedPanels = ReusableScratch()
  /// `conv2d`'s im2col matrix on the OpenBLAS path.
  static let im2colColumns = ReusableScratch()

  /// The idle buffer (address and capacity in floats), if any.
  private let idle = Mutex<(address: UInt, capacity: Int)?>(nil)

  /// Calls `body` with at least `floats` floats of 64-byte-aligned scratch.
  func withBuffer<R>(floats: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    let taken = idle.withLock { slot -> (address: UInt, capacity: Int)? in
      defer { slot = nil }
      return slot
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
      let returned = idle.withLock { slot -> Bool in
        if let current = slot, current.capacity >= capacity { return false }
        if let current = slot { UnsafeMutablePointer<Float>(bitPattern: current.address)?.deallocate() }
        slot = (UInt(bitPattern: buffer), capacity)
        return true
      }
      if !returned { buffer.deallocate() }
    }
    return body(buffer)
  }
}
