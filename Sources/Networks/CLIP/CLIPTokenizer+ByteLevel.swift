extension CLIPTokenizer {
  /// A tokenizer with CLIP's pre-tokenisation and byte-level alphabet but no merges: every word becomes its
  /// bytes, the last one marked end-of-word. Ids: 0–255 bytes, 256–511 bytes + `</w>`,
  /// 512 `<|startoftext|>`, 513 `<|endoftext|>` (also the pad token). For models built in code, such as
  /// the built-in demonstration model, where no vocabulary file exists.
  public static func byteLevel(maxLength: Int = defaultMaxLength) -> CLIPTokenizer {
    var vocabulary: [String: Int] = [:]
    for (byte, character) in BytePairEncoding.byteCharacters.enumerated() {
      vocabulary[String(character)] = byte
      vocabulary[String(character) + "</w>"] = 256 + byte
    }
    vocabulary["<|startoftext|>"] = 512
    vocabulary["<|endoftext|>"] = 513
    do {
      return try CLIPTokenizer(vocabulary: vocabulary, merges: [], maxLength: maxLength)
    } catch {
      preconditionFailure("the byte-level vocabulary is complete by construction: \(error)")
    }
  }
}
