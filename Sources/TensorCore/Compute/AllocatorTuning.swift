internal import CTensorKernels

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
/// The networks' forward passes (UNet, VAE) call it once. Set the environment variable
/// `BLD_DEFAULT_MALLOC=1` to keep glibc's defaults. No effect on platforms other than glibc.
public enum AllocatorTuning {
  /// The mmap threshold set by `keepLargeBuffersInHeap()`, in bytes.
  public static let mmapThresholdBytes = 256 << 20
  /// The trim threshold set by `keepLargeBuffersInHeap()`, in bytes.
  public static let trimThresholdBytes = 1 << 30

  /// Applies the tuning once per process (later calls do nothing). Returns whether it is in effect.
  @discardableResult
  public static func keepLargeBuffersInHeap() -> Bool { applied }

  /// Returns memory the allocator keeps for reuse to the system (glibc `malloc_trim`). Pipelines call it
  /// between phases whose buffers differ in size (the UNet loop, then the VAE decode at full resolution), so
  /// the retained heap of one phase does not add to the peak of the next.
  public static func releaseRetainedMemory() { bld_release_free_memory() }

  private static let applied: Bool = {
    #if canImport(Glibc)
      if let value = getenv("BLD_DEFAULT_MALLOC"), String(cString: value) == "1" { return false }
      return bld_tune_malloc(mmapThresholdBytes, trimThresholdBytes) == 1
    #else
      return false
    #endif
  }()
}
