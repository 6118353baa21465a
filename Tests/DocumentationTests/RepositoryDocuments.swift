import Foundation

/// The repository's Markdown documents and test sources, read from the checkout (the tests run from it).
enum RepositoryDocuments {
  /// The repository root (this file is `Tests/DocumentationTests/RepositoryDocuments.swift`).
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// Paths relative to the root of the documents whose `swift` blocks must be compiled: `README.md`,
  /// `Documentation/**/*.md` and the DocC articles `Sources/*/*.docc/*.md`.
  static func documentsWithSnippets() throws -> [String] {
    var paths = ["README.md"]
    paths += try files(under: "Documentation", extension: "md")
    paths += try files(under: "Sources", extension: "md").filter { $0.contains(".docc/") }
    return paths.sorted()
  }

  /// Every `*.md` file of the repository outside hidden and build folders.
  static func allMarkdownFiles() throws -> [String] {
    try files(under: "", extension: "md").sorted()
  }

  /// Paths relative to the root of the files under `folder` (recursively) whose name ends in `.ext`.
  static func files(under folder: String, extension ext: String) throws -> [String] {
    let base = folder.isEmpty ? root : root.appendingPathComponent(folder)
    guard
      let enumerator = FileManager.default.enumerator(
        at: base, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
    else { return [] }
    var result: [String] = []
    for case let url as URL in enumerator {
      let relative = relativePath(of: url)
      if relative.hasPrefix(".build") { continue }
      if url.pathExtension == ext { result.append(relative) }
    }
    return result
  }

  /// Every folder under `folder`, recursively, as paths relative to the root ending in `/`.
  static func folders(under folder: String) throws -> [String] {
    let base = root.appendingPathComponent(folder)
    guard
      let enumerator = FileManager.default.enumerator(
        at: base, includingPropertiesForKeys: [.isDirectoryKey], options: [.skipsHiddenFiles])
    else { return [] }
    var result: [String] = []
    for case let url as URL in enumerator
    where (try? url.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true {
      result.append(relativePath(of: url) + "/")
    }
    return result.sorted()
  }

  static func relativePath(of url: URL) -> String {
    let rootPath = root.standardizedFileURL.path
    let path = url.standardizedFileURL.path
    guard path.hasPrefix(rootPath + "/") else { return path }
    return String(path.dropFirst(rootPath.count + 1))
  }

  static func text(_ path: String) throws -> String {
    try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
  }

  static func exists(_ path: String) -> Bool {
    FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path)
  }
}

/// A fenced code block of a Markdown document.
struct CodeBlock: CustomStringConvertible {
  /// The document, relative to the repository root.
  var document: String
  /// The fence's language (`swift`, `sh`, `text`, …); empty when the fence names none.
  var language: String
  /// The 1-based number of this block among the document's blocks of the same language.
  var number: Int
  /// The 1-based line of the opening fence.
  var line: Int
  /// The lines between the fences.
  var lines: [String]

  var description: String { "\(document) \(language) block #\(number) (line \(line))" }

  /// The blocks of `text`, in order. A fence is a line whose first non-blank characters are three backticks.
  static func blocks(in text: String, document: String) -> [CodeBlock] {
    var blocks: [CodeBlock] = []
    var open: CodeBlock?
    var counts: [String: Int] = [:]
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if var block = open {
        if trimmed == "```" {
          blocks.append(block)
          open = nil
        } else {
          block.lines.append(String(line))
          open = block
        }
      } else if trimmed.hasPrefix("```") {
        let language = String(trimmed.dropFirst(3)).trimmingCharacters(in: .whitespaces)
        counts[language, default: 0] += 1
        open = CodeBlock(document: document, language: language, number: counts[language]!, line: index + 1, lines: [])
      }
    }
    return blocks
  }
}
