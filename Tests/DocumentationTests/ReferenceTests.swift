import Foundation
import Testing

/// Links and file references in the Markdown documents resolve inside the package.
@Suite("Documentation references resolve")
struct ReferenceTests {
  /// The targets of inline links `[text](target)` outside code blocks and code spans.
  static func linkTargets(in text: String) -> [(line: Int, target: String)] {
    var result: [(Int, String)] = []
    var inBlock = false
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      if line.trimmingCharacters(in: .whitespaces).hasPrefix("```") {
        inBlock.toggle()
        continue
      }
      if inBlock { continue }
      // Drop code spans, then take every "](target)".
      let prose = line.split(separator: "`", omittingEmptySubsequences: false).enumerated()
        .filter { $0.offset % 2 == 0 }.map(\.element).joined(separator: " ")
      var rest = Substring(prose)
      while let open = rest.range(of: "](") {
        let after = rest[open.upperBound...]
        guard let close = after.firstIndex(of: ")") else { break }
        result.append((index + 1, String(after[..<close])))
        rest = after[close...]
      }
    }
    return result
  }

  /// Path-like code spans (`Folder/File.ext`) that name a file of this repository: those starting with a top-level
  /// folder, a module folder under `Sources/` or one of its subfolders, or `Decisions/`, and any `*.md`.
  static func fileReferences(in text: String, roots: Set<String>) -> [(line: Int, path: String)] {
    var result: [(Int, String)] = []
    let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-/")
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let spans = line.split(separator: "`", omittingEmptySubsequences: false).enumerated()
        .filter { $0.offset % 2 == 1 }.map { String($0.element) }
      for span in spans where span.contains("/") && span.allSatisfy(allowed.contains) {
        let name = span.split(separator: "/").last.map(String.init) ?? ""
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex, !span.hasPrefix("/") else { continue }
        let first = String(span.split(separator: "/").first ?? "")
        if roots.contains(first) || span.hasSuffix(".md") { result.append((index + 1, span)) }
      }
    }
    return result
  }

  static func roots() throws -> Set<String> {
    var roots: Set<String> = [
      "Documentation", "Sources", "Tests", "Benchmarks", "Scripts", "Examples", "Decisions", "docs",
    ]
    for folder in try RepositoryDocuments.folders(under: "Sources") {
      let parts = folder.split(separator: "/")
      if parts.count <= 3 { roots.insert(String(parts.last!)) }  // Sources/<module>/ and Sources/<module>/<sub>/
    }
    for folder in try RepositoryDocuments.folders(under: "Tests") where folder.split(separator: "/").count == 2 {
      roots.insert(String(folder.split(separator: "/").last!))
    }
    return roots
  }

  @Test func relativeLinksResolveInsideThePackage() throws {
    var count = 0
    for document in try RepositoryDocuments.allMarkdownFiles() {
      let folder = (document as NSString).deletingLastPathComponent
      for (line, target) in Self.linkTargets(in: try RepositoryDocuments.text(document)) {
        if target.contains("://") || target.hasPrefix("mailto:") || target.hasPrefix("#") || target.hasPrefix("doc:") {
          continue
        }
        count += 1
        let path = String(target.split(separator: "#", maxSplits: 1).first ?? "")
        let resolved = ((folder as NSString).appendingPathComponent(path) as NSString).standardizingPath
        #expect(!resolved.hasPrefix(".."), "\(document):\(line): link \(target) leaves the package")
        #expect(RepositoryDocuments.exists(resolved), "\(document):\(line): link \(target) does not resolve")
      }
    }
    #expect(count >= 5, "found only \(count) relative links")
  }

  @Test func readmeLinksStayInThePackage() throws {
    let readme = try RepositoryDocuments.text("README.md")
    for (line, target) in Self.linkTargets(in: readme) where !target.contains("://") {
      #expect(!target.hasPrefix("/") && !target.hasPrefix(".."), "README.md:\(line): \(target)")
    }
    #expect(!readme.contains("../"), "README.md names a path outside the package")
  }

  /// A referenced file is found next to the document, from the root, or under `Documentation/`, `Sources/` or
  /// `Tests/` (documents write `Decisions/…`, `BlendedLatent/…` and `Reference/…` for short).
  @Test func fileReferencesResolve() throws {
    let roots = try Self.roots()
    var count = 0
    for document in try RepositoryDocuments.allMarkdownFiles() {
      let folder = (document as NSString).deletingLastPathComponent
      for (line, path) in Self.fileReferences(in: try RepositoryDocuments.text(document), roots: roots) {
        count += 1
        let candidates =
          [(folder as NSString).appendingPathComponent(path), path]
          + ["Documentation", "Sources", "Tests"].map {
            ($0 as NSString).appendingPathComponent(path)
          }
        #expect(candidates.contains(where: RepositoryDocuments.exists), "\(document):\(line): `\(path)` does not exist")
      }
    }
    #expect(count >= 100, "found only \(count) file references")
  }

  @Test func theScannersFindWhatTheyShould() {
    let text = """
      See [the method](Method.md#inputs) and [site](https://example.com), not `[x](y)`.
      ```text
      [ignored](nowhere.md)
      ```
      Files: `Documentation/Method.md`, `Decisions/0009-x.md`, `CLIPRanker`, `a/b`, `/tmp/x.sh`, `Images/R.swift`.
      """
    #expect(Self.linkTargets(in: text).map(\.target) == ["Method.md#inputs", "https://example.com"])
    #expect(
      Self.fileReferences(in: text, roots: ["Documentation", "Decisions", "Images"]).map(\.path)
        == ["Documentation/Method.md", "Decisions/0009-x.md", "Images/R.swift"])
  }
}
