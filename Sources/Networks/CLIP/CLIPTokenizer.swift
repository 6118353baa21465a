/// The CLIP text tokenizer of Stable Diffusion: text → 77 token ids for `CLIPTextModel`.
///
/// Matches: transformers 5.24 `CLIPTokenizer` (which is also `CLIPTokenizerFast`: transformers 5 has
/// only the `tokenizers`-backed class), called the way diffusers calls it
/// (`padding="max_length", max_length=model_max_length, truncation=True`):
/// 1. added tokens (special tokens such as `<|endoftext|>`, and SD 2.x's pad token `!`) are cut out of
///    the text first (see ``AddedToken``);
/// 2. the rest is normalised: NFC, every run of Unicode whitespace → one space, lower-casing;
/// 3. CLIP's pre-tokenisation regex splits it into words (whitespace dropped), then the ByteLevel
///    pre-tokenizer maps each word's UTF-8 bytes to printable characters;
/// 4. each word is byte-pair encoded with `</w>` marking its end;
/// 5. the ids are cut to `maxLength − 2`, framed by BOS and EOS, and padded with the pad token.
///
/// Limitations / differences from other CLIP tokenizers:
/// - No ftfy clean-up and no HTML unescaping: transformers 5 does neither (ftfy is installed in the
///   reference environment but unused), so `&amp;` stays three tokens. OpenAI's and open_clip's
///   `SimpleTokenizer`, and the transformers 4 Python `CLIPTokenizer` when ftfy is installed, apply
///   `ftfy.fix_text` (which also NFKC-folds fullwidth letters, ligatures, circled digits, and drops
///   some control characters) and differ on such prompts, and on special-token text.
/// - `do_lower_case` is ignored, as in transformers 5 (lower-casing is always on).
/// - `single_word` added tokens are rejected (``TokenizerError/unsupported(file:field:value:)``).
/// - Unicode tables are Swift's; a character assigned after the Unicode version of the `tokenizers`
///   build could be classified differently.
///
/// The tokenizer is an immutable value, safe to share across threads.
public struct CLIPTokenizer: Sendable {
  /// Length of ``TokenizedText/ids``: `model_max_length` (77 for Stable Diffusion).
  public let maxLength: Int
  /// Id of the beginning-of-sequence token (`<|startoftext|>`, 49406 in CLIP's vocabulary).
  public let bosTokenID: Int
  /// Id of the end-of-sequence token (`<|endoftext|>`, 49407).
  public let eosTokenID: Int
  /// Id of the padding token: 49407 (`<|endoftext|>`) for SD 1.x, 0 (`!`) for SD 2.x.
  public let padTokenID: Int
  /// Id of the token that replaces characters missing from the vocabulary (`<|endoftext|>`).
  public let unknownTokenID: Int
  /// The effective added tokens, by id, with the flags transformers ends up giving them.
  public let addedTokens: [Int: AddedToken]

  let model: BytePairEncoding
  let rawTokenMatcher: AddedTokenMatcher
  let normalizedTokenMatcher: AddedTokenMatcher

  /// Builds a tokenizer from an in-memory vocabulary and merge list.
  ///
  /// The special tokens are registered as added tokens in the order BOS, EOS, unknown, pad, then
  /// `additionalTokens`; when two share their content, the later flags win (as in transformers). An
  /// added token missing from the vocabulary gets the next free id.
  ///
  /// - Parameters:
  ///   - vocabulary: token → id (`vocab.json`).
  ///   - merges: merge pairs in priority order (`merges.txt` without its `#version` line).
  ///   - maxLength: the padded length, at least 2.
  ///   - bosToken: the beginning-of-text token.
  ///   - eosToken: the end-of-text token.
  ///   - unknownToken: the token for text the vocabulary cannot spell.
  ///   - padToken: the token padding to `maxLength`.
  ///   - additionalTokens: further added tokens.
  /// - Throws: ``TokenizerError`` when a merge or special token is not in the vocabulary.
  public init(
    vocabulary: [String: Int],
    merges: [(String, String)],
    maxLength: Int = 77,
    bosToken: AddedToken = AddedToken("<|startoftext|>"),
    eosToken: AddedToken = AddedToken("<|endoftext|>"),
    unknownToken: AddedToken = AddedToken("<|endoftext|>"),
    padToken: AddedToken = AddedToken("<|endoftext|>"),
    additionalTokens: [AddedToken] = []
  ) throws(TokenizerError) {
    let source = "vocabulary argument"
    let model = try BytePairEncoding(
      vocabulary: vocabulary,
      merges: merges.enumerated().map { ($1.0, $1.1, line: $0 + 1) },
      unknownToken: unknownToken.content, source: "merges argument")
    try self.init(
      model: model, maxLength: maxLength,
      specialTokens: SpecialTokenContents(
        bos: bosToken.content, eos: eosToken.content, unknown: unknownToken.content,
        pad: padToken.content),
      addedTokens: ([bosToken, eosToken, unknownToken, padToken] + additionalTokens).map {
        ($0, nil)
      },
      source: source)
  }

  /// The contents of the four special tokens.
  struct SpecialTokenContents {
    var bos: String
    var eos: String
    var unknown: String
    var pad: String
  }

  /// Common initializer: resolves the added tokens' ids and flags and the special-token ids.
  ///
  /// - Parameter addedTokens: in registration order, each with the id its file gave it (if any).
  init(
    model: BytePairEncoding, maxLength: Int, specialTokens: SpecialTokenContents,
    addedTokens: [(token: AddedToken, id: Int?)], source: String
  ) throws(TokenizerError) {
    guard maxLength >= 2 else {
      throw .invalidField(
        file: source, field: "model_max_length",
        reason: "\(maxLength) leaves no room for BOS and EOS")
    }
    var nextFreeID = (model.vocabulary.values.max() ?? -1) + 1
    var byContent: [String: (token: AddedToken, id: Int)] = [:]
    for (token, givenID) in addedTokens where !token.content.isEmpty {
      if let existing = byContent[token.content] {
        byContent[token.content] = (token, existing.id)
        continue
      }
      let id: Int
      if let vocabularyID = model.vocabulary[token.content] {
        id = vocabularyID
      } else if let givenID {
        id = givenID
      } else {
        id = nextFreeID
      }
      nextFreeID = max(nextFreeID, id + 1)
      byContent[token.content] = (token, id)
    }
    func id(of content: String, field: String) throws(TokenizerError) -> Int {
      if let added = byContent[content] { return added.id }
      if let id = model.vocabulary[content] { return id }
      throw .unknownSpecialToken(file: source, field: field, token: content)
    }
    self.model = model
    self.maxLength = maxLength
    bosTokenID = try id(of: specialTokens.bos, field: "bos_token")
    eosTokenID = try id(of: specialTokens.eos, field: "eos_token")
    unknownTokenID = try id(of: specialTokens.unknown, field: "unk_token")
    padTokenID = try id(of: specialTokens.pad, field: "pad_token")
    vocabularySize = Set(model.vocabulary.values).union(byContent.values.map(\.id)).count
    self.addedTokens = Dictionary(
      byContent.values.map { ($0.id, $0.token) }, uniquingKeysWith: { $1 })
    rawTokenMatcher = AddedTokenMatcher(
      byContent.values.filter { !$0.token.isNormalized }.map { ($0.token.content, $0.id) })
    // Like `tokenizers`, normalised tokens are looked for in their normalised form (`<Sks>` → `<sks>`).
    normalizedTokenMatcher = AddedTokenMatcher(
      byContent.values.filter { $0.token.isNormalized }.map {
        (Self.normalizedString($0.token.content), $0.id)
      })
  }

  /// The number of distinct token ids: the vocabulary's and the added tokens'.
  public let vocabularySize: Int

  /// Tokenises `text` without BOS, EOS, truncation or padding.
  ///
  /// - Returns: the content token ids, as transformers'
  ///   `tokenizer(text, add_special_tokens=False).input_ids`.
  public func tokenize(_ text: String) -> [Int] {
    var ids: [Int] = []
    for segment in segments(of: text) {
      switch segment {
      case .token(let id): ids.append(id)
      case .text(let scalars): appendContentIDs(ofNormalized: scalars, to: &ids)
      }
    }
    return ids
  }

  /// Tokenises `text` into exactly ``maxLength`` ids: BOS, at most `maxLength − 2` content tokens,
  /// EOS, then padding.
  ///
  /// Equals transformers' `tokenizer(text, padding="max_length", max_length=model_max_length,
  /// truncation=True).input_ids`; a truncated prompt still ends with EOS. Characters that do not reach the
  /// encoder as written are reported in ``TokenizedText/unencodedCharacters``.
  public func encode(_ text: String) -> TokenizedText {
    let content = tokenize(text)
    let capacity = maxLength - 2
    var ids: [Int] = []
    ids.reserveCapacity(maxLength)
    ids.append(bosTokenID)
    ids.append(contentsOf: content.prefix(capacity))
    ids.append(eosTokenID)
    let unpaddedCount = ids.count
    ids.append(contentsOf: repeatElement(padTokenID, count: maxLength - ids.count))
    return TokenizedText(
      ids: ids, unpaddedCount: unpaddedCount, tokenCount: content.count + 2,
      unencodedCharacters: unencodedCharacters(in: text))
  }

  /// The U+FFFD characters of `text` and its characters with a UTF-8 byte that has no symbol in the vocabulary
  /// (neither inside nor at the end of a word). Whitespace is not looked at: pre-tokenisation drops it anyway.
  public func unencodedCharacters(in text: String) -> UnencodedCharacters {
    var report = UnencodedCharacters()
    for scalar in text.unicodeScalars where !scalar.properties.isWhitespace {
      if scalar == "\u{FFFD}" { report.replacementCharacterCount += 1 }
      guard !model.hasEverySymbol, !report.unrepresentable.contains(scalar) else { continue }
      if UTF8.encode(scalar)!.contains(where: { !model.hasSymbol(forByte: $0) }) {
        report.unrepresentable.append(scalar)
      }
    }
    return report
  }
}
