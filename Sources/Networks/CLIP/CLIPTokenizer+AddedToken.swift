extension CLIPTokenizer {
  /// A token matched in the text before byte-pair encoding (transformers' `AddedToken`): the special
  /// tokens (`<|startoftext|>`, `<|endoftext|>`, the pad token, …) and any other added tokens.
  ///
  /// Where the text contains `content`, that span becomes the token's id directly. A *normalised* token
  /// is looked for after normalisation (NFC, whitespace, lower-casing), so `<|StartOfText|>` matches
  /// `<|startoftext|>`; a non-normalised one only matches the raw text exactly. In SD 2.x folders the
  /// pad token `!` is a non-normalised added token, so every `!` in a prompt becomes id 0 rather than
  /// the byte-pair encoding `!</w>` (transformers does the same).
  public struct AddedToken: Sendable, Hashable, CustomStringConvertible {
    /// The token's text.
    public var content: String
    /// Whether the token is matched in the normalised text (`true`) or the raw text (`false`).
    public var isNormalized: Bool
    /// transformers' `lstrip`: the match absorbs whitespace on its left. It cannot change CLIP ids,
    /// since the pre-tokenizer drops whitespace anyway; kept so the token table mirrors transformers'.
    public var stripsLeft: Bool
    /// transformers' `rstrip`: the match absorbs whitespace on its right (no effect on CLIP ids).
    public var stripsRight: Bool

    /// Creates an added token. The defaults are those transformers gives a special token written as a
    /// plain string (`AddedToken(content, special=True)`: not normalised, no stripping).
    public init(
      _ content: String, isNormalized: Bool = false, stripsLeft: Bool = false,
      stripsRight: Bool = false
    ) {
      self.content = content
      self.isNormalized = isNormalized
      self.stripsLeft = stripsLeft
      self.stripsRight = stripsRight
    }

    /// The token with its flags, as transformers prints an `AddedToken`.
    public var description: String {
      "AddedToken(\"\(content)\", normalized: \(isNormalized), lstrip: \(stripsLeft), rstrip: \(stripsRight))"
    }
  }
}

extension CLIPTokenizer {
  /// Finds added tokens in a scalar sequence: leftmost match first, the longest token on ties (the
  /// `LeftmostLongest` Aho–Corasick search of `tokenizers`).
  struct AddedTokenMatcher: Sendable {
    private let tokens: [(scalars: [Unicode.Scalar], id: Int)]
    private let firstScalars: Set<Unicode.Scalar>

    init(_ tokens: [(content: String, id: Int)]) {
      self.tokens = tokens.map { (Array($0.content.unicodeScalars), $0.id) }
        .filter { !$0.0.isEmpty }
        .sorted { $0.0.count > $1.0.count }
      firstScalars = Set(self.tokens.map { $0.scalars[0] })
    }

    /// Splits `scalars` into text and added-token segments (empty text segments are left out).
    func split(_ scalars: [Unicode.Scalar]) -> [Segment] {
      guard !tokens.isEmpty else { return scalars.isEmpty ? [] : [.text(scalars)] }
      var segments: [Segment] = []
      var textStart = 0
      var index = 0
      while index < scalars.count {
        guard firstScalars.contains(scalars[index]),
          let match = tokens.first(where: { token in
            scalars.count - index >= token.scalars.count
              && scalars[index..<(index + token.scalars.count)].elementsEqual(token.scalars)
          })
        else {
          index += 1
          continue
        }
        if textStart < index { segments.append(.text(Array(scalars[textStart..<index]))) }
        segments.append(.token(match.id))
        index += match.scalars.count
        textStart = index
      }
      if textStart < scalars.count { segments.append(.text(Array(scalars[textStart...]))) }
      return segments
    }
  }
}
