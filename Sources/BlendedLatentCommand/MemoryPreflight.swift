import Foundation

/// A rough plan of the memory an edit needs, compared with what the process may still use, so that a too-large
/// image under `ulimit -v` or a container's memory limit stops with a clear error instead of an allocation crash.
///
/// The limits read are the address-space limit (`RLIMIT_AS`, against the process's `VmSize`) and the cgroup v2
/// `memory.max` (against the group's `memory.current`). The estimates are deliberately low, so that only an
/// edit that cannot fit is refused: an edit that passes may still run out of memory later.
package enum MemoryPreflight {
  /// Memory the process may still use, and the limit it comes from.
  package struct Headroom: Equatable, Sendable {
    /// Bytes left under the limit.
    package var bytes: Int
    /// The limit, in words: "the address-space limit (ulimit -v) of 3.0 GB".
    package var limit: String

    /// Memory left under a limit: `bytes` left under the limit described by `limit`.
    package init(bytes: Int, limit: String) {
      self.bytes = bytes
      self.limit = limit
    }
  }

  /// Bytes the image stage holds for a `width × height` image and `batch` results: the decoder's and
  /// `RGBImage`'s 16-bit samples (12 bytes a pixel), the float original (12), the mask (4 and its decode),
  /// and each composite, its quantised samples and its PNG (about 20 bytes a pixel at a time).
  package static func imageBytes(width: Int, height: Int) -> Int {
    let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
    return overflow ? .max : pixels.multipliedReportingOverflow(by: 48).overflow ? .max : pixels * 48
  }

  /// Bytes the networks need beyond their weights for a `width × height` working image and `batch` results:
  /// about 2 KB a working pixel for each of the 2·batch UNet rows (classifier-free guidance), a low estimate of
  /// the VAE's and UNet's largest activations.
  package static func workingBytes(width: Int, height: Int, batch: Int) -> Int {
    let rows = 2 * max(1, batch)
    let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
    guard !overflow else { return .max }
    let (bytes, tooLarge) = pixels.multipliedReportingOverflow(by: 2_048 * rows)
    return tooLarge ? .max : bytes
  }

  /// The tightest of the address-space limit and the cgroup memory limit, or `nil` when neither is set.
  package static func headroom() -> Headroom? {
    var candidates: [Headroom] = []
    var limit = rlimit()
    if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max,
      let used = statusKilobytes("VmSize")
    {
      let bytes = Int(clamping: limit.rlim_cur)
      candidates.append(
        Headroom(
          bytes: bytes - used * 1024, limit: "the address-space limit (ulimit -v) of \(gigabytes(bytes))"))
    }
    if let group = cgroupDirectory(), let maximum = number(in: group + "/memory.max"),
      let current = number(in: group + "/memory.current")
    {
      candidates.append(
        Headroom(bytes: maximum - current, limit: "the cgroup memory limit (memory.max) of \(gigabytes(maximum))"))
    }
    return candidates.min { $0.bytes < $1.bytes }
  }

  /// Throws ``EditCommandError/insufficientMemory(purpose:needed:available:limit:)`` when `needed` bytes exceed
  /// `headroom` (by default the process's own, see ``headroom()``).
  package static func check(needed: Int, for purpose: String, headroom: Headroom? = headroom()) throws {
    guard let headroom, needed > headroom.bytes else { return }
    throw EditCommandError.insufficientMemory(
      purpose: purpose, needed: gigabytes(needed), available: gigabytes(max(0, headroom.bytes)),
      limit: headroom.limit)
  }

  /// "3.2 GB".
  static func gigabytes(_ bytes: Int) -> String { String(format: "%.1f GB", Double(bytes) / 1e9) }

  /// A `kB` field of `/proc/self/status`.
  static func statusKilobytes(_ field: String) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
      return Int(line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
    }
    return nil
  }

  /// The process's cgroup v2 folder (`0::/path` of `/proc/self/cgroup`), if it has a memory controller file.
  static func cgroupDirectory() -> String? {
    guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("0::") {
      let directory = "/sys/fs/cgroup" + line.dropFirst(3)
      if FileManager.default.fileExists(atPath: directory + "/memory.max") { return directory }
    }
    return FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory.max") ? "/sys/fs/cgroup" : nil
  }

  /// The integer in a one-line cgroup file, or `nil` for "max" or an unreadable file.
  static func number(in path: String) -> Int? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
  }
}
