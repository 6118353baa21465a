/// Characters of a prompt that do not reach the text encoder as written, found by ``CLIPTokenizer/encode(_:)``:
///
/// - U+FFFD REPLACEMENT CHARACTER, which is what invalid UTF-8 becomes when a prompt is read from a file, a
///   pipe or the command line in another encoding (Latin-1, Windows-1252): the text encoder sees the replacement
///   character, not the letters that were meant;
/// - characters with a UTF-8 byte the vocabulary has no symbol for (only possible with a custom vocabulary; the
///   CLIP vocabularies have all 256), which the byte-pair encoder drops or encodes as the unknown token.
public struct UnencodedCharacters: Sendable, Equatable {
  /// The number of U+FFFD characters.
  public var replacementCharacterCount: Int
  /// The distinct characters the vocabulary cannot represent, in order of first appearance.
  public var unrepresentable: [Unicode.Scalar]

  /// Creates a report (the tokenizer builds them).
  public init(replacementCharacterCount: Int = 0, unrepresentable: [Unicode.Scalar] = []) {
    self.replacementCharacterCount = replacementCharacterCount
    self.unrepresentable = unrepresentable
  }

  /// Whether every character reached the encoder as written.
  public var isEmpty: Bool { replacementCharacterCount == 0 && unrepresentable.isEmpty }

  /// The union of two reports (SDXL's two tokenizers see the same prompt): the larger replacement count and
  /// every unrepresentable character of either.
  public func merged(with other: UnencodedCharacters) -> UnencodedCharacters {
    UnencodedCharacters(
      replacementCharacterCount: max(replacementCharacterCount, other.replacementCharacterCount),
      unrepresentable: unrepresentable + other.unrepresentable.filter { !unrepresentable.contains($0) })
  }

  /// A sentence for a notice about the prompt called `name`, e.g. "--prompt contains 2 U+FFFD replacement
  /// characters (invalid UTF-8 …)"; `nil` when ``isEmpty``.
  public func notice(for name: String) -> String? {
    var parts: [String] = []
    if replacementCharacterCount > 0 {
      let count = replacementCharacterCount
      parts.append(
        "contains \(count) U+FFFD replacement character\(count == 1 ? "" : "s") (invalid UTF-8 in the text it "
          + "was read from; save the prompt as UTF-8), which the text encoder sees instead of the intended letters")
    }
    if !unrepresentable.isEmpty {
      let listed = unrepresentable.prefix(5).map { "U+" + String($0.value, radix: 16, uppercase: true) }
      parts.append(
        "has characters the tokenizer's vocabulary cannot represent (\(listed.joined(separator: ", "))"
          + "\(unrepresentable.count > 5 ? ", …" : "")), which were dropped or encoded as the unknown token")
    }
    return parts.isEmpty ? nil : "\(name) \(parts.joined(separator: "; it also "))"
  }
}
