/// Where loaded weights live between the calls that use them.
///
/// Stable Diffusion's weights are far larger than the activations of one layer, so the choice decides most of
/// a process's resident memory: an SD 1.5 folder with fp16 files is 2.1 GB of weights.
public enum WeightResidency: Sendable, Equatable {
  /// Copied out of the file at load time (fp16 / bf16 data kept at half width, see ``StoredTensor``). The
  /// files may change or disappear afterwards; the process holds every weight for as long as the model lives.
  case memory
  /// Left in the memory-mapped file. A layer widens its weights from the mapping when it runs and then hands
  /// the pages back to the kernel (`MADV_DONTNEED`), so the process's resident set holds only the weights in
  /// use; the operating system's page cache keeps the file's pages for the next call (they count as
  /// reclaimable cache, not as the process's memory). The files must not be modified in place or truncated
  /// while the model is alive: like every memory-mapped checkpoint (PyTorch's `mmap=True`, safetensors'
  /// `safe_open`), reading a truncated mapping ends the process with `SIGBUS`. Replacing a file by rename is
  /// safe (the mapping keeps the old file).
  case mappedFile
}
