import Foundation
import Networks
import Testing

/// CLIPTokenizer against the ids transformers 5.24 `CLIPTokenizer` produced for the same folders.
@Suite("CLIP tokenizer parity")
struct TokenizerParityTests {
  @Test("fixture has enough prompts, including truncated ones")
  func fixtureCoverage() throws {
    let (_, cases) = try TokenizerFixtures.load()
    #expect(cases.count >= 60)
    #expect(cases.contains { $0.expected["sd1"]!.untruncatedIDs.count > 77 })
    #expect(cases.contains { $0.text.isEmpty })
  }

  @Test(
    "special tokens and added-token table match transformers",
    arguments: TokenizerFixtures.variantNames)
  func specialTokens(variant: String) throws {
    let (variants, _) = try TokenizerFixtures.load()
    let expected = try #require(variants[variant])
    let folder = try TokenizerFixtures.makeFolder(variant: variant)
    defer { try? FileManager.default.removeItem(at: folder) }
    let tokenizer = try CLIPTokenizer(directory: folder)
    #expect(tokenizer.maxLength == expected.modelMaxLength)
    #expect(tokenizer.bosTokenID == expected.bosTokenID)
    #expect(tokenizer.eosTokenID == expected.eosTokenID)
    #expect(tokenizer.padTokenID == expected.padTokenID)
    #expect(tokenizer.addedTokens == expected.addedTokens)
  }

  @Test("every prompt's ids match transformers", arguments: TokenizerFixtures.variantNames)
  func promptIDs(variant: String) throws {
    let (variants, cases) = try TokenizerFixtures.load()
    let maxLength = try #require(variants[variant]).modelMaxLength
    let folder = try TokenizerFixtures.makeFolder(variant: variant)
    defer { try? FileManager.default.removeItem(at: folder) }
    let tokenizer = try CLIPTokenizer(directory: folder)
    for testCase in cases {
      let expected = try #require(testCase.expected[variant])
      let encoded = tokenizer.encode(testCase.text)
      #expect(encoded.ids == expected.ids, "\(variant): \(testCase.text.debugDescription)")
      #expect(encoded.ids.count == maxLength)
      #expect(
        encoded.tokenCount == expected.untruncatedIDs.count,
        "\(variant): \(testCase.text.debugDescription)")
      #expect(encoded.wasTruncated == (expected.untruncatedIDs.count > maxLength))
      #expect(encoded.ids[encoded.unpaddedCount - 1] == tokenizer.eosTokenID)
      #expect(
        tokenizer.tokenize(testCase.text) == Array(expected.untruncatedIDs.dropFirst().dropLast()),
        "\(variant): \(testCase.text.debugDescription)")
    }
  }

  @Test("truncation keeps EOS last and reports the full length")
  func truncation() throws {
    let folder = try TokenizerFixtures.makeFolder(variant: "sd1")
    defer { try? FileManager.default.removeItem(at: folder) }
    let tokenizer = try CLIPTokenizer(directory: folder)
    let fits = tokenizer.encode(Array(repeating: "cat", count: 75).joined(separator: " "))
    #expect(!fits.wasTruncated && fits.tokenCount == 77 && fits.unpaddedCount == 77)
    let over = tokenizer.encode(Array(repeating: "cat", count: 76).joined(separator: " "))
    #expect(over.wasTruncated && over.tokenCount == 78 && over.ids.count == 77)
    #expect(over.ids.first == 49406 && over.ids.last == 49407)
    let empty = tokenizer.encode("")
    #expect(
      empty.ids.prefix(2) == [49406, 49407] && empty.unpaddedCount == 2 && !empty.wasTruncated)
    #expect(empty.attentionMask == [1, 1] + Array(repeating: 0, count: 75))
  }

  @Test("in-memory initializer matches the folder loader")
  func inMemoryInitializer() throws {
    let (_, cases) = try TokenizerFixtures.load()
    let vocabularyFolder = try TokenizerFixtures.fixtures.appendingPathComponent("tokenizer-vocab")
    let vocabulary = try JSONDecoder().decode(
      [String: Int].self,
      from: Data(contentsOf: vocabularyFolder.appendingPathComponent("vocab.json")))
    let merges = try String(
      contentsOf: vocabularyFolder.appendingPathComponent("merges.txt"), encoding: .utf8
    )
    .split(separator: "\n").dropFirst().map { line -> (String, String) in
      let parts = line.split(separator: " ")
      return (String(parts[0]), String(parts[1]))
    }
    // SD 2.x: `!` is the (non-normalised) pad token; the others are normalised as in its folder.
    let sd2 = try CLIPTokenizer(
      vocabulary: vocabulary, merges: merges,
      bosToken: .init("<|startoftext|>", isNormalized: true),
      eosToken: .init("<|endoftext|>", isNormalized: true),
      unknownToken: .init("<|endoftext|>", isNormalized: true), padToken: .init("!"))
    #expect(sd2.padTokenID == 0)
    for testCase in cases {
      #expect(
        sd2.encode(testCase.text).ids == testCase.expected["sd2"]!.ids,
        "\(testCase.text.debugDescription)")
    }
  }

  @Test("tokenising a typical prompt takes well under a millisecond")
  func speed() throws {
    let folder = try TokenizerFixtures.makeFolder(variant: "sd2")
    defer { try? FileManager.default.removeItem(at: folder) }
    let tokenizer = try CLIPTokenizer(directory: folder)
    let prompts = [
      "a photo of a corgi wearing sunglasses on the beach, highly detailed, 4k, trending on artstation",
      "Un café crème à Paris, ☕️ 🇫🇷, photographie argentique",
      String(repeating: "pneumonoultramicroscopicsilicovolcanoconiosis ", count: 20),
    ]
    _ = prompts.map(tokenizer.encode)
    let rounds = 200
    let start = ContinuousClock.now
    for _ in 0..<rounds {
      for prompt in prompts { _ = tokenizer.encode(prompt) }
    }
    let perPrompt = (ContinuousClock.now - start) / (rounds * prompts.count)
    // Measured ~0.02–0.05 ms per prompt; the bound leaves room for a loaded shared machine.
    #expect(perPrompt < .milliseconds(2), "encode took \(perPrompt) per prompt")
  }

  @Test("a pathological 20 000-character word is handled quickly")
  func longWord() throws {
    let folder = try TokenizerFixtures.makeFolder(variant: "sd1")
    defer { try? FileManager.default.removeItem(at: folder) }
    let tokenizer = try CLIPTokenizer(directory: folder)
    let start = ContinuousClock.now
    let encoded = tokenizer.encode(String(repeating: "ab", count: 10_000))
    #expect(ContinuousClock.now - start < .seconds(1))
    #expect(encoded.wasTruncated && encoded.ids.count == 77)
  }
}

@Suite struct TokenizerVocabularySizeTests {
  @Test("vocabulary size counts added tokens outside the vocabulary")
  func size() throws {
    for (variant, size) in [("sd1", 49408), ("custom", 49412)] {
      let folder = try TokenizerFixtures.makeFolder(variant: variant)
      defer { try? FileManager.default.removeItem(at: folder) }
      #expect(try CLIPTokenizer(directory: folder).vocabularySize == size)
    }
  }
}
