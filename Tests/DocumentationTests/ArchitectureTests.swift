import Foundation
import Testing

/// `Documentation/Architecture.md` describes the tree and the background modes as they are.
@Suite("Architecture.md matches the code")
struct ArchitectureTests {
  static let document = "Documentation/Architecture.md"

  /// Every folder under `Sources/`, `Tests/`, `Benchmarks/`, `Scripts/` and `Documentation/` is named in the folder
  /// map as a code span of its full path (`Sources/TensorCore/Kernels/`). Inside a `Fixtures/` folder only the
  /// fixture sets themselves are listed, in the "Tests" table, by name (`schedulers/`).
  @Test func folderMapNamesEveryFolder() throws {
    let text = try RepositoryDocuments.text(Self.document)
    for top in ["Sources/", "Tests/", "Benchmarks/", "Scripts/", "Documentation/"] {
      let topListed = text.contains("`\(top)`") || top == "Sources/" || top == "Tests/"
      #expect(topListed, "\(top) is not in the folder map")
      for folder in try RepositoryDocuments.folders(under: top) {
        let parts = folder.split(separator: "/").map(String.init)
        if let fixtures = parts.firstIndex(of: "Fixtures"), fixtures < parts.count - 1 {
          // A fixture set (Tests/<target>/Fixtures/<set>/) is listed by name; deeper folders are its contents.
          guard fixtures == parts.count - 2 else { continue }
          let name = parts.last!
          let listed =
            text.contains("`\(name)/`") || text.contains("`\(name)`")
            || listedByPattern(name, in: text)
          #expect(listed, "fixture set \(folder) is not in the Tests table of \(Self.document)")
        } else {
          let listed = text.contains("`\(folder)`")
          #expect(listed, "\(folder) is not in the folder map of \(Self.document)")
        }
      }
    }
  }

  /// `e2e-sd2-ddim` is covered by `` `e2e-*/` ``, `tokenizer-sd1` by `` `tokenizer-*` ``.
  func listedByPattern(_ name: String, in text: String) -> Bool {
    guard let dash = name.firstIndex(of: "-") else { return false }
    let prefix = name[..<dash]
    return text.contains("`\(prefix)-*/`") || text.contains("`\(prefix)-*`")
  }

  /// The background modes in the data flow are the cases of `BackgroundMode`
  /// (`Sources/BlendedLatent/Pipeline/EditRequest.swift`), read from the source.
  @Test func dataFlowListsEveryBackgroundMode() throws {
    let source = try RepositoryDocuments.text("Sources/BlendedLatent/Pipeline/EditRequest.swift")
    let body = try #require(source.range(of: "public enum BackgroundMode").map { source[$0.upperBound...] })
    let end = try #require(body.range(of: "\n}"))
    let cases = body[..<end.lowerBound].split(separator: "\n")
      .map { $0.trimmingCharacters(in: .whitespaces) }
      .filter { $0.hasPrefix("case ") }
      .map { String($0.dropFirst(5).prefix { $0.isLetter || $0.isNumber }) }
    #expect(cases.count >= 4, "cases found: \(cases)")
    let text = try RepositoryDocuments.text(Self.document)
    let line = try #require(
      text.split(separator: "\n").first { $0.contains("BackgroundMode (") }, "no BackgroundMode line in the data flow")
    // ".none | .paste(featherRadius:) | …": the words that follow a "." at the start of a token.
    let modes = try #require(line.range(of: "BackgroundMode (")).upperBound
    let listed = line[modes...].split(whereSeparator: { $0 == " " || $0 == "(" || $0 == "|" })
      .filter { $0.hasPrefix(".") && $0.dropFirst().first?.isLetter == true }
      .map { String($0.dropFirst().prefix { $0.isLetter || $0.isNumber }) }
    #expect(Set(listed) == Set(cases), "data flow lists \(listed), BackgroundMode has \(cases)")
  }
}
