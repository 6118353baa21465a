import Foundation

extension CLIPTokenizer {
  /// The two tokenizer configurations Stable Diffusion checkpoints use over OpenAI CLIP's vocabulary.
  public enum OpenAICLIPFlavor: Sendable, Equatable {
    /// `openai/clip-vit-large-patch14` (SD 1.x, SDXL's first encoder): pads with `<|endoftext|>`, which is matched
    /// in the raw text.
    case clipViTL
    /// OpenCLIP ViT-H / bigG as diffusers ships their tokenizers (SD 2.x, SDXL's second encoder): pads with `!`;
    /// `<|endoftext|>` is matched in the normalised text.
    case openCLIP
  }

  /// OpenAI CLIP's byte-pair vocabulary (49,408 ids), shipped with the package, for models that carry no
  /// tokenizer files (single-file checkpoints), with the special tokens of `flavor` exactly as the diffusers
  /// folders' `tokenizer_config.json` declare them.
  ///
  /// The ids are built as OpenAI's `SimpleTokenizer` and transformers' `vocab.json` number them: the 256 byte
  /// characters in GPT-2's `bytes_to_unicode` order, the same with `</w>`, the 48,894 merges of
  /// `Resources/clip-bpe-merges.txt` (from open_clip's `bpe_simple_vocab_16e6.txt`, MIT licence in
  /// `Resources/clip-bpe-merges.LICENSE.txt`) in order, then `<|startoftext|>` and `<|endoftext|>`.
  /// - Parameters:
  ///   - maxLength: the padded length (77 for every Stable Diffusion text encoder).
  ///   - flavor: the special-token configuration.
  /// - Throws: ``TokenizerError`` when the shipped merges file is missing or malformed (a broken installation).
  public static func openAICLIP(_ flavor: OpenAICLIPFlavor, maxLength: Int = defaultMaxLength)
    throws(TokenizerError) -> CLIPTokenizer
  {
    let name = "clip-bpe-merges.txt"
    guard let url = Bundle.module.url(forResource: "clip-bpe-merges", withExtension: "txt") else {
      throw .missingFile(path: name)
    }
    let text: String
    do { text = try String(contentsOf: url, encoding: .utf8) } catch {
      throw .unreadableFile(path: url.path, reason: error.localizedDescription)
    }
    var merges: [(String, String)] = []
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated().dropFirst() {
      let parts = line.split(separator: " ")
      guard parts.count == 2 else {
        throw .invalidMerge(file: url.path, line: index + 1, reason: "expected two symbols, got \(parts.count)")
      }
      merges.append((String(parts[0]), String(parts[1])))
    }
    guard merges.count == openAICLIPMergeCount else {
      throw .invalidVocabulary(file: url.path, reason: "\(merges.count) merges, expected \(openAICLIPMergeCount)")
    }
    // GPT-2's bytes_to_unicode order: the printable bytes first, then the rest in increasing order.
    let printable = Array(33...126) + Array(161...172) + Array(174...255)
    let printableSet = Set(printable)
    let byteOrder = printable + (0...255).filter { !printableSet.contains($0) }
    var vocabulary: [String: Int] = [:]
    vocabulary.reserveCapacity(49_408)
    for (index, byte) in byteOrder.enumerated() {
      let character = String(BytePairEncoding.byteCharacters[byte])
      vocabulary[character] = index
      vocabulary[character + "</w>"] = 256 + index
    }
    for (index, merge) in merges.enumerated() { vocabulary[merge.0 + merge.1] = 512 + index }
    vocabulary["<|startoftext|>"] = 512 + merges.count
    vocabulary["<|endoftext|>"] = 513 + merges.count
    let bos = AddedToken("<|startoftext|>", isNormalized: true)
    switch flavor {
    case .clipViTL:
      let eos = AddedToken("<|endoftext|>", isNormalized: false)
      return try CLIPTokenizer(
        vocabulary: vocabulary, merges: merges, maxLength: maxLength, bosToken: bos, eosToken: eos,
        unknownToken: eos, padToken: eos)
    case .openCLIP:
      let eos = AddedToken("<|endoftext|>", isNormalized: true)
      return try CLIPTokenizer(
        vocabulary: vocabulary, merges: merges, maxLength: maxLength, bosToken: bos, eosToken: eos,
        unknownToken: eos, padToken: AddedToken("!", isNormalized: false))
    }
  }

  /// The number of merges of OpenAI CLIP's vocabulary (49,152 − 256 − 2).
  static let openAICLIPMergeCount = 48_894
}
