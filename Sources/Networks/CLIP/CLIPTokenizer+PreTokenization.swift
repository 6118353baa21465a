import Foundation

/// The text pipeline in front of the byte-pair encoder: added-token splitting, normalisation and
/// pre-tokenisation, each matching the component transformers' `CLIPTokenizer` configures in the
/// `tokenizers` library.
extension CLIPTokenizer {
  /// A piece of input: either text still to be tokenised, or an added token already resolved to an id.
  enum Segment {
    case text([Unicode.Scalar])
    case token(Int)
  }

  /// Splits `text` into added tokens and the text between them, the way `tokenizers`'
  /// `AddedVocabulary` does: non-normalised added tokens are matched on the raw text; each remaining
  /// piece is normalised; normalised added tokens are then matched on the normalised pieces.
  func segments(of text: String) -> [Segment] {
    var output: [Segment] = []
    for raw in rawTokenMatcher.split(Array(text.unicodeScalars)) {
      switch raw {
      case .token:
        output.append(raw)
      case .text(let scalars):
        output.append(contentsOf: normalizedTokenMatcher.split(Self.normalized(scalars)))
      }
    }
    return output
  }

  /// The `normalizers.Sequence([NFC(), Replace(Regex("\s+"), " "), Lowercase()])` of CLIPTokenizer.
  ///
  /// `\s` (Oniguruma, Unicode) is the Unicode `White_Space` property; lower-casing is per scalar, with
  /// the full (unconditional) mapping, as Rust's `char::to_lowercase` does (so no final-sigma rule, and
  /// `İ` becomes `i` + U+0307).
  static func normalized(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
    let composed: [Unicode.Scalar]
    if scalars.allSatisfy(\.isASCII) {
      composed = scalars
    } else {
      var string = String.UnicodeScalarView()
      string.append(contentsOf: scalars)
      composed = Array(String(string).precomposedStringWithCanonicalMapping.unicodeScalars)
    }
    var output: [Unicode.Scalar] = []
    output.reserveCapacity(composed.count)
    var inWhitespace = false
    for scalar in composed {
      if scalar.properties.isWhitespace {
        if !inWhitespace { output.append(" ") }
        inWhitespace = true
        continue
      }
      inWhitespace = false
      if scalar.isASCII {
        let value = scalar.value
        output.append((65...90).contains(value) ? Unicode.Scalar(value + 32)! : scalar)
      } else if scalar.properties.changesWhenLowercased {
        output.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
      } else {
        output.append(scalar)
      }
    }
    return output
  }

  /// ``normalized(_:)`` for a string.
  static func normalizedString(_ text: String) -> String {
    var view = String.UnicodeScalarView()
    view.append(contentsOf: normalized(Array(text.unicodeScalars)))
    return String(view)
  }

  /// Appends the content ids of one normalised text segment to `output`.
  ///
  /// Pre-tokenisation is CLIP's `Split` (the regex
  /// `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`,
  /// matches kept, gaps dropped) followed by the `ByteLevel` pre-tokenizer, whose GPT-2 regex splits
  /// each piece again (this only changes the two special-token literals, which become `<|`, the name
  /// and `|>`). Each resulting word is byte-pair encoded with `</w>` at its end.
  func appendContentIDs(ofNormalized scalars: [Unicode.Scalar], to output: inout [Int]) {
    var bytes: [UInt8] = []
    for piece in Self.clipPieces(scalars) {
      for word in Self.byteLevelWords(piece) {
        bytes.removeAll(keepingCapacity: true)
        for scalar in word {
          bytes.append(contentsOf: UTF8.encode(scalar)!)
        }
        model.encode(word: bytes, into: &output)
      }
    }
  }

  private static let specialLiterals: [[Unicode.Scalar]] = [
    Array("<|startoftext|>".unicodeScalars), Array("<|endoftext|>".unicodeScalars),
  ]
  private static let contractionSuffixes: [[Unicode.Scalar]] = [
    "s", "t", "re", "ve", "m", "ll", "d",
  ]
  .map { Array($0.unicodeScalars) }

  /// Whether `pattern` occurs in `scalars` at `index`.
  private static func matches(
    _ pattern: [Unicode.Scalar], in scalars: ArraySlice<Unicode.Scalar>, at index: Int
  ) -> Bool {
    guard scalars.endIndex - index >= pattern.count else { return false }
    for offset in 0..<pattern.count where scalars[index + offset] != pattern[offset] {
      return false
    }
    return true
  }

  /// Length of the contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) at `index`, or 0.
  private static func contractionLength(in scalars: ArraySlice<Unicode.Scalar>, at index: Int)
    -> Int
  {
    guard scalars[index] == "'" else { return 0 }
    for suffix in contractionSuffixes where matches(suffix, in: scalars, at: index + 1) {
      return suffix.count + 1
    }
    return 0
  }

  /// The matches of CLIP's pre-tokenisation regex, in order (whitespace between them is dropped).
  static func clipPieces(_ scalars: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
    let text = scalars[...]
    var pieces: [ArraySlice<Unicode.Scalar>] = []
    var index = text.startIndex
    while index < text.endIndex {
      let scalar = text[index]
      let category = ScalarClass(scalar)
      if category == .space {
        index += 1
        continue
      }
      var end = index + 1
      if scalar == "<",
        let literal = specialLiterals.first(where: { matches($0, in: text, at: index) })
      {
        end = index + literal.count
      } else if case let length = contractionLength(in: text, at: index), length > 0 {
        end = index + length
      } else if category == .letter {
        while end < text.endIndex, ScalarClass(text[end]) == .letter { end += 1 }
      } else if category == .other {
        while end < text.endIndex, ScalarClass(text[end]) == .other { end += 1 }
      }  // a number is a piece of its own
      pieces.append(text[index..<end])
      index = end
    }
    return pieces
  }

  /// The ByteLevel pre-tokenizer's GPT-2 split of one whitespace-free piece:
  /// `'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}+|[^\s\p{L}\p{N}]+`.
  static func byteLevelWords(_ piece: ArraySlice<Unicode.Scalar>) -> [ArraySlice<Unicode.Scalar>] {
    var words: [ArraySlice<Unicode.Scalar>] = []
    var index = piece.startIndex
    while index < piece.endIndex {
      let category = ScalarClass(piece[index])
      var end = index + 1
      if case let length = contractionLength(in: piece, at: index), length > 0 {
        end = index + length
      } else {
        while end < piece.endIndex, ScalarClass(piece[end]) == category { end += 1 }
      }
      words.append(piece[index..<end])
      index = end
    }
    return words
  }
}

extension CLIPTokenizer {
  /// The character classes of the pre-tokenisation regexes: `\s`, `\p{L}`, `\p{N}`, everything else.
  enum ScalarClass: Equatable {
    case space, letter, number, other

    init(_ scalar: Unicode.Scalar) {
      if scalar.isASCII {
        switch scalar.value {
        case 0x41...0x5A, 0x61...0x7A: self = .letter
        case 0x30...0x39: self = .number
        case 0x09...0x0D, 0x20: self = .space
        default: self = .other
        }
        return
      }
      let properties = scalar.properties
      if properties.isWhitespace {
        self = .space
        return
      }
      switch properties.generalCategory {
      case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
        self = .letter
      case .decimalNumber, .letterNumber, .otherNumber:
        self = .number
      default:
        self = .other
      }
    }
  }
}
