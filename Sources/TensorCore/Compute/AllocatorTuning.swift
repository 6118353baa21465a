internal import CTensorKernels
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Process-wide tuning of the C allocator for networks that allocate and free many large tensors per call.
///
/// With glibc's defaults every buffer above the (dynamic, at most 32 MiB) mmap threshold is a fresh `mmap`,
/// and freed memory at the heap's top goes back to the system, so each UNet call or fine-tuning iteration
/// page-faults and zero-fills gigabytes again (measured ≈ 17 % of a full-size UNet call; from 21.0–21.5 to
/// 16.1–17.4 s per paper-mode fine-tuning iteration at 512 × 512 on Zen 4, see Documentation/Performance.md).
/// `keepLargeBuffersInHeap()` raises the mmap threshold to 1 GiB and turns glibc's automatic trimming off, so
/// freed activations are reused without faults until a pipeline calls ``releaseRetainedMemory()`` between
/// phases; and ``adviseHugePages(_:)`` asks for transparent huge pages for the large buffers TensorCore
/// allocates, so their first touch faults 2 MiB at a time and they need 512 times fewer TLB entries.
///
/// It changes the allocator of the whole host process, so it is opt-in: the library never calls it; `bld` and
/// `bld-bench` switch it on at start-up. Set the environment variable
/// `BLD_DEFAULT_MALLOC=1` to keep glibc's defaults even then. No effect on platforms other than glibc.
package enum AllocatorTuning {
  /// The mmap threshold set by `keepLargeBuffersInHeap()`, in bytes: buffers of at most this size come from
  /// the heap and are reused after they are freed.
  package static let mmapThresholdBytes = 1 << 30
  /// The smallest buffer ``adviseHugePages(_:)`` advises, in bytes (two 2 MiB huge pages).
  package static let hugePageAdviceMinimumBytes = 4 << 20

  /// Applies the tuning once per process (later calls do nothing). Returns whether it is in effect.
  @discardableResult
  package static func keepLargeBuffersInHeap() -> Bool { applied }

  /// Returns memory the allocator keeps for reuse to the system (glibc `malloc_trim`) when
  /// ``keepLargeBuffersInHeap()`` is in effect (otherwise nothing to do). Pipelines call it between phases
  /// whose buffers differ in size (the UNet loop, then the VAE decode at full resolution) and when an edit
  /// ends, so the retained heap of one phase adds neither to the peak of the next nor to an idle process.
  package static func releaseRetainedMemory() {
    if isApplied.load(ordering: .relaxed) { bld_release_free_memory() }
  }

  /// Asks for transparent huge pages for the whole huge pages inside `buffer` when the tuning is in effect
  /// and the buffer holds at least ``hugePageAdviceMinimumBytes``. Call it on fresh storage before its first
  /// write: pages already touched stay small.
  package static func adviseHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
    guard buffer.count >= hugePageAdviceMinimumBytes, isApplied.load(ordering: .relaxed),
      let address = buffer.baseAddress
    else { return }
    bld_advise_huge_pages(address, buffer.count)
  }

  private static let isApplied = Atomic<Bool>(false)

  private static let applied: Bool = {
    #if canImport(Glibc)
      if let value = getenv("BLD_DEFAULT_MALLOC"), String(cString: value) == "1" { return false }
      let tuned = bld_tune_malloc(mmapThresholdBytes) == 1
      isApplied.store(tuned, ordering: .relaxed)
      return tuned
    #else
      return false
    #endif
  }()
}
