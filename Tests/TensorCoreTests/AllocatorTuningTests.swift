import Foundation
import TensorCore
import Testing

/// The process-wide allocator tuning that `bld` and `bld-bench` switch on (Decision 0027). Switching it on is
/// one-way and changes only where freed memory goes, not any value, so it cannot disturb tests running beside.
@Suite("Allocator tuning")
struct AllocatorTuningTests {
  /// Whether the kernel backs `madvise(MADV_HUGEPAGE)` ranges with transparent huge pages.
  static let kernelGivesHugePages: Bool = {
    guard let mode = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)
    else { return false }
    return mode.contains("[always]") || mode.contains("[madvise]")
  }()

  /// The `AnonHugePages` of the mapping in `/proc/self/smaps` that holds `address`, in KiB.
  static func anonymousHugePageKiB(containing address: UInt) -> Int? {
    // procfs files report size 0, so they are read to their end rather than by size.
    guard let data = FileHandle(forReadingAtPath: "/proc/self/smaps")?.readDataToEndOfFile() else { return nil }
    let smaps = String(decoding: data, as: UTF8.self)
    var inside = false
    for line in smaps.split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
        let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
        inside = bounds.count == 2 && bounds[0] <= address && address < bounds[1]
      } else if inside, fields.first == "AnonHugePages:", fields.count >= 2 {
        return Int(fields[1])
      }
    }
    return nil
  }

  @Test(
    "a large tensor made with the tuning on sits on transparent huge pages",
    .enabled(if: kernelGivesHugePages, "the kernel's transparent_hugepage mode is never"))
  func largeTensorsGetHugePages() throws {
    try #require(AllocatorTuning.keepLargeBuffersInHeap(), "glibc's mallopt refused the tuning")
    let tensor = Tensor(shape: [16 << 20], repeating: 1)  // 64 MiB, written once by the initialiser
    let kiB = tensor.withUnsafeBufferPointer { buffer in
      Self.anonymousHugePageKiB(containing: UInt(bitPattern: buffer.baseAddress! + buffer.count / 2))
    }
    #expect(tensor.scalars.allSatisfy { $0 == 1 })
    // Some of it in huge pages: without the advice a `madvise`-mode kernel gives none. (Not all: the buffer's
    // unaligned ends stay in base pages, and a fragmented machine may not find every huge page at once.)
    #expect((kiB ?? 0) >= 2 << 10, "AnonHugePages of the tensor's mapping: \(kiB.map(String.init) ?? "not found")")
  }
}
