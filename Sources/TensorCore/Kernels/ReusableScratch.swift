import Glibc
import Synchronization

/// Reusable scratch buffers, so repeated operations neither allocate nor page-fault megabytes per call (fresh
/// pages cost a fault each, and glibc returns large freed blocks to the system). Concurrent callers (threads
/// that each transform their own Winograd blocks) each take one; up to `retainedLimit` idle buffers are kept.
///
/// The buffers are mapped pages of their own, outside glibc's heap (Decision 0040). They live as long as the
/// process, so where `AllocatorTuning.keepLargeBuffersInHeap()` puts large blocks in the heap, a retained
/// buffer of tens of MiB would sit between the tensors freed around it and leave holes the next pass cannot
/// reuse: with the 96 MiB Winograd workspace in the heap, a second VAE encode at 512 in one process peaked at
/// 1.22 GB (0.83 GB with the earlier 24 MiB one), and at 0.78 GB with mapped buffers.
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
      if let taken, let old = UnsafeMutablePointer<Float>(bitPattern: taken.address) {
        Self.unmap(old, floats: taken.capacity)
      }
      capacity = max(floats, 1)
      buffer = Self.map(floats: capacity)
    }
    defer {
      let kept = idle.withLock { list -> Bool in
        guard list.count < retainedLimit else { return false }
        list.append((UInt(bitPattern: buffer), capacity))
        return true
      }
      if !kept { Self.unmap(buffer, floats: capacity) }
    }
    return body(buffer)
  }

  /// `floats` floats of fresh anonymous pages (page-aligned, so 64-byte-aligned), advised as huge pages.
  private static func map(floats: Int) -> UnsafeMutablePointer<Float> {
    let bytes = floats * MemoryLayout<Float>.size
    let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    guard let raw, raw != MAP_FAILED else {
      preconditionFailure("ReusableScratch: cannot map \(bytes >> 20) MiB of scratch (errno \(errno))")
    }
    AllocatorTuning.adviseHugePages(UnsafeMutableRawBufferPointer(start: raw, count: bytes))
    return raw.bindMemory(to: Float.self, capacity: floats)
  }

  /// Returns a buffer from `map(floats:)` to the system.
  private static func unmap(_ buffer: UnsafeMutablePointer<Float>, floats: Int) {
    munmap(buffer, floats * MemoryLayout<Float>.size)
  }
}
