import Foundation

/// An error raised while loading or building a ``CLIPTokenizer``.
///
/// Every case names the file (a path, or a short description such as `"vocabulary argument"` for the
/// in-memory initializer) and the field, line or token at fault.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A required file (`vocab.json`, `merges.txt`) is absent from the tokenizer folder.
  case missingFile(path: String)
  /// A file exists but could not be read or decoded as UTF-8 text.
  case unreadableFile(path: String, reason: String)
  /// A JSON file is not valid JSON, or its top level has the wrong shape.
  case invalidJSON(path: String, reason: String)
  /// A field of a configuration file has a value of the wrong type or an out-of-range value.
  case invalidField(file: String, field: String, reason: String)
  /// A line of the merges file is malformed or refers to a token missing from the vocabulary.
  ///
  /// `line` is 1-based and counts every line of the file, the `#version` header included.
  case invalidMerge(file: String, line: Int, reason: String)
  /// A vocabulary entry is unusable (for example a negative or duplicated id).
  case invalidVocabulary(file: String, reason: String)
  /// A configured special token (BOS, EOS, unknown) has no id: it is neither in the vocabulary nor an
  /// added token.
  case unknownSpecialToken(file: String, field: String, token: String)
  /// A configuration value that changes tokenisation and that this implementation does not support.
  case unsupported(file: String, field: String, value: String)

  /// A one-line explanation naming the file and the problem.
  public var description: String {
    switch self {
    case .missingFile(let path):
      return "tokenizer file is missing: \(path)"
    case .unreadableFile(let path, let reason):
      return "cannot read tokenizer file \(path): \(reason)"
    case .invalidJSON(let path, let reason):
      return "invalid JSON in \(path): \(reason)"
    case .invalidField(let file, let field, let reason):
      return "invalid field '\(field)' in \(file): \(reason)"
    case .invalidMerge(let file, let line, let reason):
      return "invalid merge at line \(line) of \(file): \(reason)"
    case .invalidVocabulary(let file, let reason):
      return "invalid vocabulary in \(file): \(reason)"
    case .unknownSpecialToken(let file, let field, let token):
      return "special token '\(field)' = \"\(token)\" from \(file) is not in the vocabulary"
    case .unsupported(let file, let field, let value):
      return "unsupported value for '\(field)' in \(file): \(value)"
    }
  }
}

extension TokenizerError: LocalizedError {
  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
