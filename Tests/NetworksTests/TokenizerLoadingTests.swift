import Foundation
import Networks
import Testing

/// Malformed tokenizer folders give typed errors naming the file; small hand-built tokenizers.
@Suite("CLIP tokenizer loading")
struct TokenizerLoadingTests {
  /// An SD 1.x folder with `change` applied, loaded; returns the folder too for path checks.
  private func load(
    variant: String = "sd1", _ change: (URL) throws -> Void
  ) throws -> (folder: URL, error: TokenizerError?) {
    let folder = try TokenizerFixtures.makeFolder(variant: variant)
    try change(folder)
    do {
      _ = try CLIPTokenizer(directory: folder)
      return (folder, nil)
    } catch {
      return (folder, error)
    }
  }

  private func write(_ text: String, to folder: URL, _ name: String) throws {
    try Data(text.utf8).write(to: folder.appendingPathComponent(name))
  }

  @Test(
    "missing vocab.json or merges.txt is a missingFile error naming it",
    arguments: ["vocab.json", "merges.txt"])
  func missingFile(name: String) throws {
    let (folder, error) = try load {
      try FileManager.default.removeItem(at: $0.appendingPathComponent(name))
    }
    defer { try? FileManager.default.removeItem(at: folder) }
    #expect(error == .missingFile(path: folder.appendingPathComponent(name).path))
    #expect(error?.description.contains(name) == true)
  }

  @Test("a folder that does not exist reports the missing vocab.json")
  func missingFolder() {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "no-such-tokenizer-\(UUID())")
    #expect(
      throws: TokenizerError.missingFile(path: folder.appendingPathComponent("vocab.json").path)
    ) {
      try CLIPTokenizer(directory: folder)
    }
  }

  @Test(
    "corrupt JSON is an invalidJSON error naming the file",
    arguments: [
      ("vocab.json", "{\"a\": 0,"), ("vocab.json", "[\"a\", \"b\"]"),
      ("vocab.json", "{\"a\": \"zero\"}"),
      ("tokenizer_config.json", "{model_max_length: 77}"), ("tokenizer_config.json", "[1, 2]"),
      ("special_tokens_map.json", "not json"),
    ])
  func corruptJSON(name: String, contents: String) throws {
    let (folder, error) = try load { try write(contents, to: $0, name) }
    defer { try? FileManager.default.removeItem(at: folder) }
    guard case .invalidJSON(let path, _)? = error else {
      Issue.record("expected invalidJSON for \(name), got \(String(describing: error))")
      return
    }
    #expect(path == folder.appendingPathComponent(name).path)
  }

  @Test("a malformed merges line is reported with its line number")
  func malformedMerge() throws {
    let (folder, error) = try load { folder in
      let url = folder.appendingPathComponent("merges.txt")
      var lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
      lines[2] = "i n extra"
      try write(lines.joined(separator: "\n"), to: folder, "merges.txt")
    }
    defer { try? FileManager.default.removeItem(at: folder) }
    guard case .invalidMerge(let file, let line, _)? = error else {
      Issue.record("expected invalidMerge, got \(String(describing: error))")
      return
    }
    #expect(file == folder.appendingPathComponent("merges.txt").path)
    #expect(line == 3)
  }

  @Test("a merge of tokens missing from the vocabulary is rejected")
  func mergeOutOfVocabulary() throws {
    let (folder, error) = try load {
      try write("#version: 0.2\ni n\nzz\u{1F600} q\n", to: $0, "merges.txt")
    }
    defer { try? FileManager.default.removeItem(at: folder) }
    guard case .invalidMerge(_, let line, let reason)? = error else {
      Issue.record("expected invalidMerge, got \(String(describing: error))")
      return
    }
    #expect(line == 3)
    #expect(reason.contains("not in the vocabulary"))
  }

  @Test("an empty merges file is accepted (every word falls back to bytes)")
  func emptyMerges() throws {
    let (folder, error) = try load { try write("#version: 0.2\n", to: $0, "merges.txt") }
    defer { try? FileManager.default.removeItem(at: folder) }
    #expect(error == nil)
    let tokenizer = try CLIPTokenizer(directory: folder)
    // "cat" → c, a, t</w> (byte tokens) with no merges.
    #expect(tokenizer.tokenize("cat") == [66, 64, 339])
  }

  @Test(
    "bad configuration fields are typed errors naming the field",
    arguments: [
      ("{\"model_max_length\": \"seventy\"}", "model_max_length"),
      ("{\"model_max_length\": 1}", "model_max_length"),
      ("{\"pad_token\": {\"lstrip\": false}}", "pad_token"),
      ("{\"pad_token\": 5}", "pad_token"),
      (
        "{\"bos_token\": {\"content\": \"<|startoftext|>\", \"normalized\": \"yes\"}}",
        "bos_token.normalized"
      ),
      ("{\"added_tokens_decoder\": {\"x\": {\"content\": \"!\"}}}", "added_tokens_decoder"),
    ])
  func invalidField(config: String, field: String) throws {
    let (folder, error) = try load { folder in
      try write(config, to: folder, "tokenizer_config.json")
      try FileManager.default.removeItem(
        at: folder.appendingPathComponent("special_tokens_map.json"))
    }
    defer { try? FileManager.default.removeItem(at: folder) }
    guard case .invalidField(let file, let reportedField, _)? = error else {
      Issue.record("expected invalidField for \(config), got \(String(describing: error))")
      return
    }
    #expect(file == folder.appendingPathComponent("tokenizer_config.json").path)
    #expect(reportedField == field)
  }

  @Test("single_word added tokens are reported as unsupported")
  func singleWord() throws {
    let (folder, error) = try load { folder in
      try write(
        "{\"pad_token\": {\"content\": \"!\", \"single_word\": true}}", to: folder,
        "special_tokens_map.json")
    }
    defer { try? FileManager.default.removeItem(at: folder) }
    #expect(
      error
        == .unsupported(
          file: folder.appendingPathComponent("special_tokens_map.json").path,
          field: "pad_token.single_word",
          value: "true"))
  }

  @Test("without configuration files the CLIPTokenizer defaults apply")
  func defaults() throws {
    let (folder, error) = try load { folder in
      for name in ["tokenizer_config.json", "special_tokens_map.json"] {
        try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
      }
    }
    defer { try? FileManager.default.removeItem(at: folder) }
    #expect(error == nil)
    let tokenizer = try CLIPTokenizer(directory: folder)
    #expect(
      tokenizer.maxLength == 77 && tokenizer.padTokenID == 49407 && tokenizer.bosTokenID == 49406)
    // Non-normalised (string) special tokens: upper-case text is not the token.
    #expect(tokenizer.tokenize("<|ENDOFTEXT|>") != [49407])
    #expect(tokenizer.tokenize("<|endoftext|>") == [49407])
  }

  @Test("transformers' 'unset' model_max_length (1e30) falls back to 77")
  func unsetMaxLength() throws {
    let (folder, error) = try load { folder in
      try write(
        "{\"model_max_length\": 1000000000000000019884624838656}", to: folder,
        "tokenizer_config.json")
    }
    defer { try? FileManager.default.removeItem(at: folder) }
    #expect(error == nil)
    #expect(try CLIPTokenizer(directory: folder).maxLength == CLIPTokenizer.defaultMaxLength)
  }

  @Test("a hand-built vocabulary: BPE merges, unknown characters, string-format tokenizer.json")
  func smallVocabulary() throws {
    let vocabulary = [
      "l": 0, "o": 1, "w</w>": 2, "lo": 3, "low</w>": 4, "<|startoftext|>": 5, "<|endoftext|>": 6,
      "o</w>": 7,
    ]
    let merges = [("l", "o"), ("lo", "w</w>")]
    let tokenizer = try CLIPTokenizer(vocabulary: vocabulary, merges: merges, maxLength: 6)
    #expect(tokenizer.tokenize("low LOW lo") == [4, 4, 0, 7])
    // 'x' is not in this vocabulary: it becomes the unknown token (<|endoftext|>).
    #expect(tokenizer.tokenize("lox") == [3, 6])
    let encoded = tokenizer.encode("low low low low low")
    #expect(encoded.ids == [5, 4, 4, 4, 4, 6] && encoded.wasTruncated && encoded.tokenCount == 7)

    // The same model as a tokenizers file with "left right" merges and no vocab.json.
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tokenizer-json-\(UUID())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let file: [String: Any] = [
      "model": ["type": "BPE", "vocab": vocabulary, "merges": ["l o", "lo w</w>"]],
      "added_tokens": [["id": 6, "content": "<|endoftext|>", "normalized": false]],
    ]
    try JSONSerialization.data(withJSONObject: file).write(
      to: folder.appendingPathComponent("tokenizer.json"))
    try write("{\"model_max_length\": 6}", to: folder, "tokenizer_config.json")
    let loaded = try CLIPTokenizer(directory: folder)
    #expect(loaded.encode("low low low low low") == encoded)
  }

  @Test("in-memory errors: unknown merge tokens and too short maxLength")
  func inMemoryErrors() {
    let vocabulary = ["a": 0, "b": 1, "<|startoftext|>": 2, "<|endoftext|>": 3]
    #expect(throws: TokenizerError.self) {
      try CLIPTokenizer(vocabulary: vocabulary, merges: [("a", "b")])
    }
    #expect(
      throws: TokenizerError.invalidField(
        file: "vocabulary argument", field: "model_max_length",
        reason: "1 leaves no room for BOS and EOS")
    ) {
      try CLIPTokenizer(vocabulary: vocabulary, merges: [], maxLength: 1)
    }
  }
}
