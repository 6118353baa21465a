internal import CTensorKernels
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// Process-wide tuning of the C allocator for networks that allocate and free many large tensors per call.
///
/// With glibc's defaults every buffer above the (dynamic, at most 32 MiB) mmap threshold is a fresh `mmap`,
/// so each UNet call page-faults and zero-fills gigabytes (measured ≈ 17 % of a full-size UNet call, mostly
/// kernel time). `keepLargeBuffersInHeap()` raises the mmap threshold to 256 MiB and the trim threshold to
/// 1 GiB, so freed activations are reused without faults. The cost is a higher peak RSS (freed memory is
/// kept; ≈ +300 MB on the full-size UNet benchmark, see Documentation/Performance.md).
///
/// It changes the allocator of the whole host process, so it is opt-in: the library never calls it; `bld` and
/// `bld-bench` switch it on at start-up. Set the environment variable
/// `BLD_DEFAULT_MALLOC=1` to keep glibc's defaults even then. No effect on platforms other than glibc.
package enum AllocatorTuning {
  /// The mmap threshold set by `keepLargeBuffersInHeap()`, in bytes.
  package static let mmapThresholdBytes = 256 << 20
  /// The trim threshold set by `keepLargeBuffersInHeap()`, in bytes.
  package static let trimThresholdBytes = 1 << 30

  /// Applies the tuning once per process (later calls do nothing). Returns whether it is in effect.
  @discardableResult
  package static func keepLargeBuffersInHeap() -> Bool { applied }

  /// Returns memory the allocator keeps for reuse to the system (glibc `malloc_trim`) when
  /// ``keepLargeBuffersInHeap()`` is in effect (otherwise nothing to do). Pipelines call it between phases
  /// whose buffers differ in size (the UNet loop, then the VAE decode at full resolution), so the retained
  /// heap of one phase does not add to the peak of the next.
  package static func releaseRetainedMemory() {
    if isApplied.load(ordering: .relaxed) { bld_release_free_memory() }
  }

  private static let isApplied = Atomic<Bool>(false)

  private static let applied: Bool = {
    #if canImport(Glibc)
      if let value = getenv("BLD_DEFAULT_MALLOC"), String(cString: value) == "1" { return false }
      let tuned = bld_tune_malloc(mmapThresholdBytes, trimThresholdBytes) == 1
      isApplied.store(tuned, ordering: .relaxed)
      return tuned
    #else
      return false
    #endif
  }()
}
