import Foundation
import Testing

/// Every ```` ```swift ```` block of `README.md`, `Documentation/**/*.md` and the DocC articles has a compiled twin.
///
/// A twin is a test source (anywhere under `Tests/`) holding the marker line
///
///     // snippet: <document path> #<n>
///
/// followed by the document's n-th `swift` block, line for line (blanks at either end ignored and runs of blanks
/// counted as one, so `swift format` may re-align end-of-line comments in the twin). The
/// block's `import` lines are not repeated there: the twin's file must import those modules instead. Twins of
/// this target live in `Snippets/`, one function per block, compiled but not run; a twin may also sit in a test
/// that runs it (the README's, in `LibraryUsageExampleTests`).
///
/// To change a snippet, change the document and its twin together. Code that is not meant to compile (pseudo-code,
/// shell sessions, diagrams) goes in a fence with another language (`text`, `sh`): every fence names one.
@Suite("Documentation snippets are compiled")
struct SnippetTests {
  /// A marker and the source lines that follow it.
  struct Twin {
    var file: String
    var line: Int
    var following: [String]
    var imports: Set<String>
  }

  static let marker = "// snippet: "

  static func twins() throws -> [String: [Twin]] {
    var result: [String: [Twin]] = [:]
    for file in try RepositoryDocuments.files(under: "Tests", extension: "swift") {
      let lines = try RepositoryDocuments.text(file).split(separator: "\n", omittingEmptySubsequences: false)
        .map(String.init)
      let imports = Set(lines.map(normalized).filter { $0.hasPrefix("import ") })
      for (index, line) in lines.enumerated() {
        let trimmed = normalized(line)
        guard trimmed.hasPrefix(marker) else { continue }
        let key = String(trimmed.dropFirst(marker.count))
        result[key, default: []].append(
          Twin(file: file, line: index + 1, following: Array(lines[(index + 1)...]).map(normalized), imports: imports))
      }
    }
    return result
  }

  static func normalized(_ line: String) -> String {
    line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
  }

  static func swiftBlocks() throws -> [CodeBlock] {
    try RepositoryDocuments.documentsWithSnippets().flatMap { document in
      CodeBlock.blocks(in: try RepositoryDocuments.text(document), document: document).filter { $0.language == "swift" }
    }
  }

  @Test func everySwiftBlockHasACompiledTwin() throws {
    let twins = try Self.twins()
    let blocks = try Self.swiftBlocks()
    #expect(blocks.count >= 15, "found only \(blocks.count) swift blocks: is the repository root right?")
    for block in blocks {
      let key = "\(block.document) #\(block.number)"
      guard let candidates = twins[key] else {
        Issue.record("\(block) has no compiled twin: add `\(Self.marker)\(key)` and the block to a test source")
        continue
      }
      #expect(
        candidates.count == 1, "\(block) has \(candidates.count) twins: \(candidates.map { "\($0.file):\($0.line)" })")
      let twin = candidates[0]
      let code = block.lines.map(Self.normalized)
      for line in code where line.hasPrefix("import ") {
        #expect(twin.imports.contains(line), "\(block): `\(line)` is not imported by its twin \(twin.file)")
      }
      let body = Array(code.drop { $0.hasPrefix("import ") || $0.isEmpty })
      let actual = Array(twin.following.prefix(body.count))
      // The first line that differs; a twin cut short by the end of its file differs at its end.
      if let index = body.indices.first(where: { $0 >= actual.count || body[$0] != actual[$0] }) {
        let found = index < actual.count ? actual[index] : "(end of file)"
        Issue.record(
          """
          \(block) differs from its twin \(twin.file):\(twin.line) at block line \(index + 1):
            document: \(body[index])
            twin:     \(found)
          """)
      }
    }
  }

  @Test func everyTwinHasItsBlock() throws {
    let keys = Set(try Self.swiftBlocks().map { "\($0.document) #\($0.number)" })
    for (key, twins) in try Self.twins() where !keys.contains(key) {
      for twin in twins {
        Issue.record(
          "\(twin.file):\(twin.line) is the twin of `\(key)`, which no document has (renumbered or removed?)")
      }
    }
  }

  @Test func everyFenceNamesItsLanguage() throws {
    for document in try RepositoryDocuments.allMarkdownFiles() {
      for block in CodeBlock.blocks(in: try RepositoryDocuments.text(document), document: document)
      where block.language.isEmpty {
        Issue.record("\(document): the fence at line \(block.line) names no language (use `swift`, `sh`, `text`, …)")
      }
    }
  }

  /// The checker itself: a block that differs from its twin, or has none, is reported.
  @Test func theCheckerFindsBlocks() {
    let text = """
      Intro.

      ```swift
      import Foundation

      let x = 1
        print(x)
      ```

      ```text
      not code
      ```
      """
    let blocks = CodeBlock.blocks(in: text, document: "X.md")
    #expect(blocks.map(\.language) == ["swift", "text"])
    #expect(blocks.first?.lines == ["import Foundation", "", "let x = 1", "  print(x)"])
    #expect(blocks.first?.line == 3)
    #expect(blocks.map(\.number) == [1, 1])
  }
}
