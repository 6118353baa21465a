import Foundation
import TensorCore

extension CLIPTokenizer {
  /// The `model_max_length` used when the folder does not give a usable one: CLIP's context length.
  public static let defaultMaxLength = 77

  /// Loads a diffusers `tokenizer/` folder.
  ///
  /// Reads:
  /// - `vocab.json` and `merges.txt` (required; when both are absent, the vocabulary, merges and
  ///   added tokens of a `tokenizers` `tokenizer.json`, which transformers 5 `save_pretrained` writes,
  ///   are used instead);
  /// - `tokenizer_config.json` (optional): `model_max_length`, the `*_token` fields and
  ///   `added_tokens_decoder`;
  /// - `special_tokens_map.json` (optional): read only when `tokenizer_config.json` has no
  ///   `added_tokens_decoder`, and then it overrides the config's tokens, as in transformers (this is
  ///   how SD 2.x gets its pad token `!` although its config says `<|endoftext|>`).
  ///
  /// Tokens may be strings or objects with `content` (and `normalized`, `lstrip`, `rstrip`,
  /// `single_word`). Missing tokens default to CLIPTokenizer's (`<|startoftext|>`, `<|endoftext|>`).
  /// A missing, absurdly large (transformers' "unset" 1e30) or absent `model_max_length` becomes
  /// ``defaultMaxLength``.
  ///
  /// - Throws: ``TokenizerError`` naming the file (and field or line) that is missing or malformed.
  public init(directory: URL) throws(TokenizerError) {
    let files = Folder(directory: directory)
    let config = try files.jsonObject(named: "tokenizer_config.json", required: false) ?? [:]
    let configPath = files.path("tokenizer_config.json")

    // Added tokens: the saved decoder (config, else tokenizer.json), then the named special tokens.
    var fileAddedTokens: [(token: AddedToken, id: Int)] = []
    var addedTokensPath = configPath
    var named: [String: (token: AddedToken, path: String)] = [:]
    var extra: [(token: AddedToken, path: String)] = []
    for key in Self.namedTokenKeys {
      if let token = try Self.namedToken(key, in: config, path: configPath, isFromMap: false) {
        named[key] = (token, configPath)
      }
    }
    for key in ["additional_special_tokens", "extra_special_tokens"] {
      extra += try Self.tokenList(key, in: config, path: configPath, isFromMap: false).map {
        ($0, configPath)
      }
    }
    if let decoder = config["added_tokens_decoder"] {
      fileAddedTokens = try Self.addedTokensDecoder(decoder, path: configPath)
      addedTokensPath = configPath
    } else if let map = try files.jsonObject(named: "special_tokens_map.json", required: false) {
      let mapPath = files.path("special_tokens_map.json")
      for key in Self.namedTokenKeys {
        if let token = try Self.namedToken(key, in: map, path: mapPath, isFromMap: true) {
          named[key] = (token, mapPath)
        }
      }
      for key in ["additional_special_tokens", "extra_special_tokens"] {
        let tokens = try Self.tokenList(key, in: map, path: mapPath, isFromMap: true)
        for token in tokens where !extra.contains(where: { $0.token.content == token.content }) {
          extra.append((token, mapPath))
        }
      }
    }
    let defaults = [
      "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
      "pad_token": "<|endoftext|>",
    ]
    for (key, content) in defaults where named[key] == nil {
      named[key] = (AddedToken(content), configPath)
    }
    // Vocabulary and merges (`tokenizer.json` also brings the added tokens saved with it).
    let unknownContent = named["unk_token"]!.token.content
    let model: BytePairEncoding
    if files.exists("vocab.json") || !files.exists("tokenizer.json") {
      let vocabulary = try files.vocabulary()
      let merges = try files.merges()
      model = try BytePairEncoding(
        vocabulary: vocabulary, merges: merges, unknownToken: unknownContent,
        source: files.path("merges.txt"))
    } else {
      let (vocabulary, merges, added) = try files.tokenizerJSON()
      model = try BytePairEncoding(
        vocabulary: vocabulary, merges: merges, unknownToken: unknownContent,
        source: files.path("tokenizer.json"))
      if config["added_tokens_decoder"] == nil {
        fileAddedTokens = added
        addedTokensPath = files.path("tokenizer.json")
      }
    }

    let decoderContents = Set(fileAddedTokens.map(\.token.content))
    var ordered: [(token: AddedToken, id: Int?)] = fileAddedTokens.map { ($0.token, $0.id) }
    for key in Self.namedTokenKeys {
      if let entry = named[key], !decoderContents.contains(entry.token.content) {
        ordered.append((entry.token, nil))
      }
    }
    for entry in extra where !decoderContents.contains(entry.token.content) {
      ordered.append((entry.token, nil))
    }

    try self.init(
      model: model,
      maxLength: try Self.maxLength(in: config, path: configPath),
      specialTokens: SpecialTokenContents(
        bos: named["bos_token"]!.token.content, eos: named["eos_token"]!.token.content,
        unknown: named["unk_token"]!.token.content, pad: named["pad_token"]!.token.content),
      addedTokens: ordered, source: addedTokensPath)
  }

  /// transformers' `SPECIAL_TOKENS_ATTRIBUTES`, in its order (the order tokens are registered in).
  static let namedTokenKeys = [
    "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token",
  ]

  static func maxLength(in config: [String: JSONValue], path: String) throws(TokenizerError) -> Int {
    switch config["model_max_length"] {
    case nil, .null:
      return defaultMaxLength
    case .integer(let value) where value >= 1_000_000_000:
      return defaultMaxLength
    case .integer(let value) where value >= 2:
      return value
    case .double(let value) where value >= 1e9:
      return defaultMaxLength
    case .double(let value) where value >= 2 && value.rounded() == value:
      return Int(value)
    case .integer(let value):
      throw .invalidField(
        file: path, field: "model_max_length", reason: "\(value) leaves no room for BOS and EOS")
    case let value?:
      throw .invalidField(
        file: path, field: "model_max_length", reason: "expected an integer, found \(value)")
    }
  }

  /// Parses one token value: a string, or an object with `content` and flags.
  ///
  /// `normalized` defaults the way transformers builds the token: `false` for strings and for objects
  /// from `special_tokens_map.json` (`AddedToken(**value, special=True)`), `true` for objects from
  /// `tokenizer_config.json` (`AddedToken(**value)`, not yet special).
  static func token(
    _ value: JSONValue, field: String, path: String, normalizedByDefault: Bool
  ) throws(TokenizerError) -> AddedToken {
    switch value {
    case .string(let content):
      return AddedToken(content)
    case .object(let object):
      guard case .string(let content)? = object["content"] else {
        throw .invalidField(
          file: path, field: field, reason: "a token object needs a string 'content'")
      }
      func flag(_ name: String, default defaultValue: Bool) throws(TokenizerError) -> Bool {
        switch object[name] {
        case nil, .null: return defaultValue
        case .bool(let flag): return flag
        case let other?:
          throw .invalidField(
            file: path, field: "\(field).\(name)", reason: "expected a boolean, found \(other)")
        }
      }
      if try flag("single_word", default: false) {
        throw .unsupported(file: path, field: "\(field).single_word", value: "true")
      }
      return AddedToken(
        content, isNormalized: try flag("normalized", default: normalizedByDefault),
        stripsLeft: try flag("lstrip", default: false),
        stripsRight: try flag("rstrip", default: false))
    default:
      throw .invalidField(
        file: path, field: field, reason: "expected a string or a token object, found \(value)")
    }
  }

  static func namedToken(
    _ key: String, in object: [String: JSONValue], path: String, isFromMap: Bool
  ) throws(TokenizerError) -> AddedToken? {
    guard let value = object[key], value != .null else { return nil }
    return try token(value, field: key, path: path, normalizedByDefault: !isFromMap)
  }

  static func tokenList(
    _ key: String, in object: [String: JSONValue], path: String, isFromMap: Bool
  ) throws(TokenizerError) -> [AddedToken] {
    switch object[key] {
    case nil, .null:
      return []
    case .array(let values):
      var tokens: [AddedToken] = []
      for (index, value) in values.enumerated() {
        tokens.append(
          try token(value, field: "\(key)[\(index)]", path: path, normalizedByDefault: !isFromMap))
      }
      return tokens
    case .object(let values):
      var tokens: [AddedToken] = []
      for name in values.keys.sorted() {
        tokens.append(
          try token(
            values[name]!, field: "\(key).\(name)", path: path, normalizedByDefault: !isFromMap))
      }
      return tokens
    case let value?:
      throw .invalidField(
        file: path, field: key, reason: "expected a list of tokens, found \(value)")
    }
  }

  /// Parses `added_tokens_decoder` (`{"49407": {"content": …, "normalized": …}}`), in id order.
  static func addedTokensDecoder(
    _ value: JSONValue, path: String
  ) throws(TokenizerError) -> [(token: AddedToken, id: Int)] {
    guard case .object(let entries) = value else {
      throw .invalidField(file: path, field: "added_tokens_decoder", reason: "expected an object")
    }
    var tokens: [(token: AddedToken, id: Int)] = []
    for (key, entry) in entries {
      guard let id = Int(key), id >= 0 else {
        throw .invalidField(
          file: path, field: "added_tokens_decoder", reason: "key \"\(key)\" is not a token id")
      }
      guard case .object = entry else {
        throw .invalidField(
          file: path, field: "added_tokens_decoder.\(key)", reason: "expected a token object")
      }
      // `AddedToken(**token)`: `special` defaults to false, so `normalized` defaults to true.
      var special = false
      if case .object(let object) = entry, case .bool(let flag)? = object["special"] {
        special = flag
      }
      tokens.append(
        (
          try token(
            entry, field: "added_tokens_decoder.\(key)", path: path, normalizedByDefault: !special),
          id
        ))
    }
    return tokens.sorted { $0.id < $1.id }
  }
}

extension CLIPTokenizer {
  /// File access for one tokenizer folder, with errors that name the file.
  struct Folder {
    let directory: URL

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func exists(_ name: String) -> Bool {
      var isDirectory: ObjCBool = false
      return FileManager.default.fileExists(atPath: path(name), isDirectory: &isDirectory)
        && !isDirectory.boolValue
    }

    func data(named name: String) throws(TokenizerError) -> Data {
      guard exists(name) else { throw .missingFile(path: path(name)) }
      do {
        return try RegularFile.read(directory.appendingPathComponent(name))
      } catch {
        throw .unreadableFile(path: path(name), reason: error.reason)
      }
    }

    func jsonObject(named name: String, required: Bool) throws(TokenizerError) -> [String:
      JSONValue]?
    {
      guard required || exists(name) else { return nil }
      let data = try data(named: name)
      let value: JSONValue
      do {
        value = try JSONDecoder().decode(JSONValue.self, from: data)
      } catch {
        throw .invalidJSON(path: path(name), reason: "not valid JSON")
      }
      guard case .object(let object) = value else {
        throw .invalidJSON(path: path(name), reason: "the top level is not an object")
      }
      return object
    }

    /// `vocab.json`: token → id.
    func vocabulary() throws(TokenizerError) -> [String: Int] {
      let data = try data(named: "vocab.json")
      let vocabulary: [String: Int]
      do {
        vocabulary = try JSONDecoder().decode([String: Int].self, from: data)
      } catch {
        throw .invalidJSON(
          path: path("vocab.json"), reason: "expected an object of token → integer id: \(error)")
      }
      try Self.validate(vocabulary, path: path("vocab.json"))
      return vocabulary
    }

    static func validate(_ vocabulary: [String: Int], path: String) throws(TokenizerError) {
      guard !vocabulary.isEmpty else {
        throw .invalidVocabulary(file: path, reason: "the vocabulary is empty")
      }
      if let (token, id) = vocabulary.first(where: { $0.value < 0 || $0.value > Int(Int32.max) }) {
        throw .invalidVocabulary(file: path, reason: "token \"\(token)\" has the invalid id \(id)")
      }
    }

    /// `merges.txt`: one `left right` pair per line, in priority order; `#version` lines are skipped.
    func merges() throws(TokenizerError) -> [(String, String, line: Int)] {
      let data = try data(named: "merges.txt")
      guard let text = String(data: data, encoding: .utf8) else {
        throw .unreadableFile(path: path("merges.txt"), reason: "not UTF-8 text")
      }
      var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      if lines.last?.isEmpty == true { lines.removeLast() }
      var merges: [(String, String, line: Int)] = []
      merges.reserveCapacity(lines.count)
      for (index, rawLine) in lines.enumerated() {
        let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
        if line.hasPrefix("#version") { continue }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
          throw .invalidMerge(
            file: path("merges.txt"), line: index + 1,
            reason: "expected two tokens separated by one space, found \"\(line.prefix(80))\"")
        }
        merges.append((String(parts[0]), String(parts[1]), line: index + 1))
      }
      return merges
    }

    /// The BPE model and added tokens of a `tokenizers` `tokenizer.json`.
    func tokenizerJSON() throws(TokenizerError) -> (
      [String: Int], [(String, String, line: Int)], [(token: AddedToken, id: Int)]
    ) {
      let file = path("tokenizer.json")
      let data = try data(named: "tokenizer.json")
      let root: TokenizersFile
      do {
        root = try JSONDecoder().decode(TokenizersFile.self, from: data)
      } catch {
        throw .invalidJSON(path: file, reason: "expected a tokenizers BPE model: \(error)")
      }
      if let type = root.model.type, type != "BPE" {
        throw .unsupported(file: file, field: "model.type", value: type)
      }
      let vocabulary = root.model.vocab
      try Self.validate(vocabulary, path: file)
      var merges: [(String, String, line: Int)] = []
      merges.reserveCapacity(root.model.merges.pairs.count)
      for (index, pair) in root.model.merges.pairs.enumerated() {
        guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty else {
          throw .invalidField(
            file: file, field: "model.merges[\(index)]", reason: "expected two tokens")
        }
        merges.append((pair[0], pair[1], line: index + 1))
      }
      var added: [(token: AddedToken, id: Int)] = []
      for (index, entry) in (root.addedTokens ?? []).enumerated() {
        guard case .object(let object) = entry, case .integer(let id)? = object["id"] else {
          throw .invalidField(
            file: file, field: "added_tokens[\(index)]", reason: "expected an object with an id")
        }
        added.append(
          (
            try CLIPTokenizer.token(
              entry, field: "added_tokens[\(index)]", path: file, normalizedByDefault: false), id
          ))
      }
      return (vocabulary, merges, added.sorted { $0.id < $1.id })
    }
  }

  /// The parts of a `tokenizers` `tokenizer.json` that the loader reads.
  struct TokenizersFile: Decodable {
    struct Model: Decodable {
      var type: String?
      var vocab: [String: Int]
      var merges: Merges
    }

    /// Merges, either as `["left", "right"]` pairs (current files) or `"left right"` strings (older).
    struct Merges: Decodable {
      var pairs: [[String]]

      init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        pairs = []
        pairs.reserveCapacity(container.count ?? 0)
        while !container.isAtEnd {
          pairs.append(try container.decode(Entry.self).pair)
        }
      }

      private struct Entry: Decodable {
        var pair: [String]

        init(from decoder: any Decoder) throws {
          let container = try decoder.singleValueContainer()
          if let pair = try? container.decode([String].self) {
            self.pair = pair
          } else {
            pair = try container.decode(String.self).split(
              separator: " ", omittingEmptySubsequences: false
            )
            .map(String.init)
          }
        }
      }
    }

    var model: Model
    var addedTokens: [JSONValue]?

    enum CodingKeys: String, CodingKey {
      case model
      case addedTokens = "added_tokens"
    }
  }

  /// A parsed JSON value (configuration files have fields whose type varies).
  enum JSONValue: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
      let container = try decoder.singleValueContainer()
      if container.decodeNil() {
        self = .null
      } else if let value = try? container.decode(Bool.self) {
        self = .bool(value)
      } else if let value = try? container.decode(Int.self) {
        self = .integer(value)
      } else if let value = try? container.decode(Double.self) {
        self = .double(value)
      } else if let value = try? container.decode(String.self) {
        self = .string(value)
      } else if let value = try? container.decode([JSONValue].self) {
        self = .array(value)
      } else {
        self = .object(try container.decode([String: JSONValue].self))
      }
    }

    var description: String {
      switch self {
      case .null: return "null"
      case .bool(let value): return "\(value)"
      case .integer(let value): return "\(value)"
      case .double(let value): return "\(value)"
      case .string(let value): return "\"\(value)\""
      case .array: return "a list"
      case .object: return "an object"
      }
    }
  }
}
