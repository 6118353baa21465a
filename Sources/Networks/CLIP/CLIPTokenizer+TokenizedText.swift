/// The result of ``CLIPTokenizer/encode(_:)``: fixed-length ids for the text encoder, and whether the
/// prompt had to be cut.
public struct TokenizedText: Sendable, Equatable {
  /// Exactly ``CLIPTokenizer/maxLength`` ids: BOS, content, EOS, padding.
  public let ids: [Int]
  /// How many of ``ids`` precede the padding (BOS, kept content tokens, EOS).
  public let unpaddedCount: Int
  /// The number of tokens the whole prompt needs, BOS and EOS included, before truncation
  /// (transformers' `len(tokenizer(text).input_ids)`).
  public let tokenCount: Int
  /// The prompt's characters that did not reach the encoder as written (U+FFFD, characters the vocabulary
  /// cannot represent).
  public let unencodedCharacters: UnencodedCharacters

  /// Creates a value (normally produced by ``CLIPTokenizer/encode(_:)``).
  public init(
    ids: [Int], unpaddedCount: Int, tokenCount: Int, unencodedCharacters: UnencodedCharacters = UnencodedCharacters()
  ) {
    self.ids = ids
    self.unpaddedCount = unpaddedCount
    self.tokenCount = tokenCount
    self.unencodedCharacters = unencodedCharacters
  }

  /// Whether content tokens were dropped to fit (``tokenCount`` > `ids.count`); diffusers warns
  /// about the removed part of the prompt in that case.
  public var wasTruncated: Bool { tokenCount > unpaddedCount }

  /// The attention mask transformers returns: 1 for BOS, content and EOS, 0 for padding.
  public var attentionMask: [Int] {
    Array(repeating: 1, count: unpaddedCount)
      + Array(repeating: 0, count: ids.count - unpaddedCount)
  }
}
