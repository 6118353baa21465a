import BlendedLatent
import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// The resident memory of one process doing 20 edits with the tiny SD 2 model stays flat (issue 16, soak): the
/// RSS after edit 20 is within 5 % of the RSS after edit 2. Opt-in (`BLD_SOAK=1`, run alone by `Scripts/soak.sh`,
/// since other tests in the same process would move the RSS); the two figures go to standard error.
@Suite("Soak: 20 edits in one process", .enabled(if: ProcessInfo.processInfo.environment["BLD_SOAK"] == "1"))
struct EditSoakTests {
  /// `VmRSS` of `/proc/self/status`, in bytes.
  static func residentBytes() -> Int {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return (Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? 0) * 1024
  }

  @Test("RSS after edit 20 is within 5 % of the RSS after edit 2", .timeLimit(.minutes(10)))
  func twentyEdits() throws {
    let model = try StableDiffusionModel(directory: ModelDirectory(root: RepositoryFixtures.tinyModel("sd2-tiny")))
    let editor = try BlendedLatentEditor(model: model)
    let (image, mask) = EditorInputs.make(height: 64, width: 64)
    var afterSecond = 0
    var afterLast = 0
    for index in 1...20 {
      var request = EditRequest(
        image: image, mask: mask, prompt: "a red hat number \(index)", stepCount: 10, strength: 1, seed: UInt64(index))
      request.batchSize = 1 + index % 2
      let result = try editor.edit(request)
      #expect(result.images.count == request.batchSize)
      if index == 2 { afterSecond = Self.residentBytes() }
      if index == 20 { afterLast = Self.residentBytes() }
    }
    let growth = Double(afterLast - afterSecond) / Double(afterSecond)
    FileHandle.standardError.write(
      Data(
        String(
          format: "soak: RSS after edit 2 %.1f MB, after edit 20 %.1f MB, growth %.2f %%\n",
          Double(afterSecond) / 1e6, Double(afterLast) / 1e6, 100 * growth
        ).utf8))
    #expect(afterSecond > 0 && growth <= 0.05, "RSS \(afterSecond) → \(afterLast) bytes")
  }
}
