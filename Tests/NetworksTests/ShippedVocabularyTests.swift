import Foundation
import Networks
import Testing

/// `CLIPTokenizer.openAICLIP(_:)`, built from the package's own copy of CLIP's merges, against the ids
/// transformers 5.24 produced with the real `vocab.json`/`merges.txt` (SD 1.x pads with `<|endoftext|>`, SD 2.x
/// with `!`).
@Suite("The shipped CLIP vocabulary")
struct ShippedVocabularyTests {
  @Test(
    "every prompt's ids and the special tokens match transformers",
    arguments: [("sd1", CLIPTokenizer.OpenAICLIPFlavor.clipViTL), ("sd2", .openCLIP)])
  func matchesTransformers(variant: String, flavor: CLIPTokenizer.OpenAICLIPFlavor) throws {
    let (variants, cases) = try TokenizerFixtures.load()
    let expectedVariant = try #require(variants[variant])
    let tokenizer = try CLIPTokenizer.openAICLIP(flavor)
    #expect(tokenizer.vocabularySize == 49_408)
    #expect(tokenizer.bosTokenID == expectedVariant.bosTokenID && tokenizer.eosTokenID == expectedVariant.eosTokenID)
    #expect(tokenizer.padTokenID == expectedVariant.padTokenID)
    #expect(tokenizer.addedTokens == expectedVariant.addedTokens)
    #expect(cases.count >= 60)
    for testCase in cases {
      let expected = try #require(testCase.expected[variant])
      let encoded = tokenizer.encode(testCase.text)
      #expect(encoded.ids == expected.ids, "\(variant): \(testCase.text.debugDescription)")
      #expect(encoded.tokenCount == expected.untruncatedIDs.count, "\(variant): \(testCase.text.debugDescription)")
    }
  }

  @Test("its vocabulary is the real vocab.json, id for id")
  func vocabularyMatchesVocabJSON() throws {
    let shipped = try CLIPTokenizer.openAICLIP(.clipViTL)
    let folder = try TokenizerFixtures.makeFolder(variant: "sd1")
    defer { try? FileManager.default.removeItem(at: folder) }
    let fromFiles = try CLIPTokenizer(directory: folder)
    #expect(shipped.vocabularySize == fromFiles.vocabularySize)
    // Every single-token word spelled through both: the id of each vocabulary entry's word form.
    let words = ["a", "photo", "of", "cat", "wooden", "東京", "🐱", "naïve", "!", "hashtag", "<|endoftext|>"]
    for word in words {
      #expect(shipped.tokenize(word) == fromFiles.tokenize(word), "\(word)")
    }
  }
}
