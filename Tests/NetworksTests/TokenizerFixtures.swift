import Foundation
import Networks

/// Builds tokenizer folders from the committed fixtures (`Fixtures/tokenizer-*`), and reads the
/// reference cases written by `Tests/Reference/make_tokenizer_fixtures.py`.
enum TokenizerFixtures {
  static let variantNames = ["sd1", "sd2", "modern", "custom", "saved"]

  static var fixtures: URL {
    get throws {
      guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw FixtureError("Fixtures folder is missing from the test bundle")
      }
      return url
    }
  }

  struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
  }

  /// A fresh temporary folder holding a copy of the shared vocabulary and one variant's configuration
  /// files (for `saved`: a `tokenizer.json` rebuilt from the template and the shared vocabulary).
  static func makeFolder(variant: String) throws -> URL {
    let manager = FileManager.default
    let folder = manager.temporaryDirectory.appendingPathComponent(
      "tokenizer-\(variant)-\(UUID().uuidString)")
    try manager.createDirectory(at: folder, withIntermediateDirectories: true)
    let vocabularyFolder = try fixtures.appendingPathComponent("tokenizer-vocab")
    let variantFolder = try fixtures.appendingPathComponent("tokenizer-\(variant)")
    for name in try manager.contentsOfDirectory(atPath: variantFolder.path)
    where name != "tokenizer.template.json" {
      try manager.copyItem(
        at: variantFolder.appendingPathComponent(name), to: folder.appendingPathComponent(name))
    }
    if variant == "saved" {
      let template = try JSONSerialization.jsonObject(
        with: Data(contentsOf: variantFolder.appendingPathComponent("tokenizer.template.json")))
      guard var root = template as? [String: Any], var model = root["model"] as? [String: Any]
      else {
        throw FixtureError("tokenizer.template.json has no model")
      }
      model["vocab"] = try JSONSerialization.jsonObject(
        with: Data(contentsOf: vocabularyFolder.appendingPathComponent("vocab.json")))
      let merges = try String(
        contentsOf: vocabularyFolder.appendingPathComponent("merges.txt"), encoding: .utf8)
      model["merges"] = merges.split(separator: "\n").dropFirst().map { line in
        line.split(separator: " ").map(String.init)
      }
      root["model"] = model
      try JSONSerialization.data(withJSONObject: root).write(
        to: folder.appendingPathComponent("tokenizer.json"))
    } else {
      for name in ["vocab.json", "merges.txt"] {
        try manager.copyItem(
          at: vocabularyFolder.appendingPathComponent(name), to: folder.appendingPathComponent(name)
        )
      }
    }
    return folder
  }

  struct Variant {
    var modelMaxLength: Int
    var bosTokenID: Int
    var eosTokenID: Int
    var padTokenID: Int
    var addedTokens: [Int: CLIPTokenizer.AddedToken]
  }

  struct Expected {
    var ids: [Int]
    var untruncatedIDs: [Int]
  }

  struct Case {
    var text: String
    var expected: [String: Expected]
  }

  static func load() throws -> (variants: [String: Variant], cases: [Case]) {
    let data = try Data(contentsOf: fixtures.appendingPathComponent("tokenizer-cases.json"))
    guard let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
      let variantObjects = root["variants"] as? [String: [String: Any]],
      let caseObjects = root["cases"] as? [[String: Any]]
    else { throw FixtureError("tokenizer-cases.json has an unexpected layout") }
    var variants: [String: Variant] = [:]
    for (name, object) in variantObjects {
      var added: [Int: CLIPTokenizer.AddedToken] = [:]
      for token in object["addedTokens"] as? [[String: Any]] ?? [] {
        added[token["id"] as! Int] = CLIPTokenizer.AddedToken(
          token["content"] as! String, isNormalized: token["normalized"] as! Bool,
          stripsLeft: token["lstrip"] as! Bool, stripsRight: token["rstrip"] as! Bool)
      }
      variants[name] = Variant(
        modelMaxLength: object["modelMaxLength"] as! Int, bosTokenID: object["bosTokenID"] as! Int,
        eosTokenID: object["eosTokenID"] as! Int, padTokenID: object["padTokenID"] as! Int,
        addedTokens: added)
    }
    let cases = caseObjects.map { object in
      var expected: [String: Expected] = [:]
      for name in variantNames {
        if let result = object[name] as? [String: Any] {
          expected[name] = Expected(
            ids: result["ids"] as! [Int], untruncatedIDs: result["untruncatedIDs"] as! [Int])
        }
      }
      return Case(text: object["text"] as! String, expected: expected)
    }
    return (variants, cases)
  }
}
