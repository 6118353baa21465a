// Prints the public API of the package's library modules, one sorted line per declaration, from the symbol
// graphs `swift-symbolgraph-extract` writes (run by Scripts/public-api.sh, which compares the result with
// API/public-api.txt). Usage: swift Scripts/PublicAPI.swift SYMBOL_GRAPH_DIR
import Foundation

struct SymbolGraph: Decodable {
  struct Module: Decodable { let name: String }
  struct Symbol: Decodable {
    struct Kind: Decodable { let identifier: String }
    struct Fragment: Decodable { let spelling: String }
    let kind: Kind
    let pathComponents: [String]
    let declarationFragments: [Fragment]?
  }
  let module: Module
  let symbols: [Symbol]
}

let directory = URL(fileURLWithPath: CommandLine.arguments[1])
var lines = Set<String>()
for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".symbols.json") {
  let graph = try JSONDecoder().decode(SymbolGraph.self, from: Data(contentsOf: directory.appendingPathComponent(file)))
  // `BlendedLatent@Networks.symbols.json` holds BlendedLatent's extensions of Networks' types.
  let owner = String(file.prefix { $0 != "." && $0 != "@" })
  for symbol in graph.symbols {
    let declaration = (symbol.declarationFragments ?? []).map(\.spelling).joined()
      .split(whereSeparator: \.isNewline).joined(separator: " ")
    let kind = symbol.kind.identifier.replacingOccurrences(of: "swift.", with: "")
    lines.insert("\(owner) \(symbol.pathComponents.joined(separator: ".")) [\(kind)] \(declaration)")
  }
}
for line in lines.sorted() { print(line) }
