import BlendedLatent
import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// Prompt characters that do not reach the text encoder as written — U+FFFD from invalid UTF-8, characters the
/// vocabulary cannot represent — are reported by the tokenizer and in the edit's result (issue 16, finding 8).
@Suite("Replacement and unrepresentable prompt characters are reported")
struct PromptCharacterNoticeTests {
  @Test func tokenizerCountsReplacementCharacters() throws {
    let tokenizer = try CLIPTokenizer.openAICLIP(.clipViTL)
    // What `String(decoding:as:)` (and so `CommandLine.arguments`) makes of Latin-1 "café à la crème".
    let prompt = String(
      decoding: Array("caf".utf8) + [0xE9] + Array(" a la cr".utf8) + [0xE8, 0x6D, 0x65], as: UTF8.self)
    #expect(prompt.unicodeScalars.filter { $0 == "\u{FFFD}" }.count == 2)
    let report = tokenizer.encode(prompt).unencodedCharacters
    #expect(report == UnencodedCharacters(replacementCharacterCount: 2))
    let notice = try #require(report.notice(for: "--prompt"))
    #expect(notice.hasPrefix("--prompt contains 2 U+FFFD replacement characters (invalid UTF-8"), "\(notice)")
    #expect(tokenizer.encode("a café, 4k 🎩 <|endoftext|>").unencodedCharacters.isEmpty)
  }

  @Test func tokenizerReportsBytesTheVocabularyLacks() throws {
    // The byte-level tokenizer has every byte; a vocabulary of ASCII letters only lacks é's two UTF-8 bytes.
    #expect(CLIPTokenizer.byteLevel().encode("café").unencodedCharacters.isEmpty)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bld-ascii-tokenizer-\(UUID())")
    defer { try? FileManager.default.removeItem(at: folder) }
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var vocabulary: [String: Int] = ["<|startoftext|>": 0, "<|endoftext|>": 1]
    for letter in "abcdefghijklmnopqrstuvwxyz".unicodeScalars {
      vocabulary[String(letter)] = vocabulary.count
      vocabulary[String(letter) + "</w>"] = vocabulary.count
    }
    try JSONSerialization.data(withJSONObject: vocabulary).write(to: folder.appendingPathComponent("vocab.json"))
    try Data("#version: 0.2\n".utf8).write(to: folder.appendingPathComponent("merges.txt"))
    let tokenizer = try CLIPTokenizer(directory: folder)
    let report = tokenizer.encode("café née").unencodedCharacters
    #expect(report.unrepresentable == ["é"] && report.replacementCharacterCount == 0)
    #expect(report.notice(for: "--prompt")?.contains("(U+E9)") == true, "\(report)")
  }

  @Test func editResultReportsThePromptAndTheNegativePrompt() throws {
    let model = try StableDiffusionModel(directory: ModelDirectory(root: RepositoryFixtures.tinyModel("sd2-tiny")))
    let editor = try BlendedLatentEditor(model: model)
    let (image, mask) = EditorInputs.make(height: 32, width: 32)
    var request = EditRequest(image: image, mask: mask, prompt: "a hat \u{FFFD}", stepCount: 2, seed: 1)
    request.negativePrompt = "blurry \u{FFFD}\u{FFFD}\u{FFFD}"
    let result = try editor.edit(request)
    #expect(result.promptUnencodedCharacters.replacementCharacterCount == 1)
    #expect(result.negativePromptUnencodedCharacters.replacementCharacterCount == 3)
    let clean = try editor.edit(EditRequest(image: image, mask: mask, prompt: "a hat", stepCount: 2, seed: 1))
    #expect(clean.promptUnencodedCharacters.isEmpty && clean.negativePromptUnencodedCharacters.isEmpty)
  }
}
