import BlendedLatent
import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// A CLIP model folder in transformers' layout assembled from committed fixtures: the tiny random `CLIPModel`
/// of `Tests/Reference/make_ranking_fixtures.py` (this target's `Fixtures/clip-ranking`) plus the real CLIP
/// BPE files and SD 1.x tokenizer configuration (the NetworksTests target's fixtures, found from this file).
enum RankingFixture {
  static var fixtureFolder: URL {
    get throws {
      try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        .appendingPathComponent("clip-ranking", isDirectory: true)
    }
  }

  static var networksFixtures: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("NetworksTests/Fixtures", isDirectory: true)
  }

  static func io() throws -> SafetensorsFile {
    try SafetensorsFile(contentsOf: fixtureFolder.appendingPathComponent("io.safetensors"))
  }

  /// A fresh temporary CLIP folder; `omit` names files to leave out.
  static func assemble(omitting omit: Set<String> = []) throws -> URL {
    let manager = FileManager.default
    let folder = manager.temporaryDirectory.appendingPathComponent(
      "clip-\(UUID().uuidString)", isDirectory: true)
    try manager.createDirectory(at: folder, withIntermediateDirectories: true)
    let sources: [(URL, String)] = [
      (try fixtureFolder, "config.json"), (try fixtureFolder, "model.safetensors"),
      (networksFixtures.appendingPathComponent("tokenizer-vocab"), "vocab.json"),
      (networksFixtures.appendingPathComponent("tokenizer-vocab"), "merges.txt"),
      (networksFixtures.appendingPathComponent("tokenizer-sd1"), "tokenizer_config.json"),
      (networksFixtures.appendingPathComponent("tokenizer-sd1"), "special_tokens_map.json"),
    ]
    for (source, name) in sources where !omit.contains(name) {
      try manager.copyItem(
        at: source.appendingPathComponent(name), to: folder.appendingPathComponent(name))
    }
    return folder
  }

  /// The four images of the fixture, each `[3, 48, 48]`, and the mask `[48, 48]`.
  static func batch() throws -> (images: [Tensor], mask: Tensor) {
    let io = try io()
    let images = try io.tensor(named: "images")
    let count = images.shape[0]
    return (
      images.chunked(count, axis: 0).map { $0.reshaped(Array(images.shape.dropFirst())) },
      try io.tensor(named: "mask")
    )
  }

  static var prompt: String {
    get throws {
      try String(contentsOf: fixtureFolder.appendingPathComponent("prompt.txt"), encoding: .utf8)
    }
  }
}

@Suite("CLIPRanker: masked-image CLIP distance, parity with transformers")
struct RankingTests {
  /// The ranker is loaded once per test from a fresh folder (tests run in parallel).
  func loadRanker() throws -> (CLIPRanker, URL) {
    let folder = try RankingFixture.assemble()
    return (try CLIPRanker(directory: folder), folder)
  }

  @Test func preprocessingMatchesTorchBicubicAntialias() throws {
    let (ranker, folder) = try loadRanker()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (images, mask) = try RankingFixture.batch()
    let resized = try ranker.preprocessed(images: images, mask: mask)
    let comparison = TensorComparison(resized, try RankingFixture.io().tensor(named: "resized"))
    #expect(comparison.isClose(relative: 1e-4), "\(comparison)")
    #expect(ranker.imageSize == 32)
  }

  @Test func tokenizerAndEmbeddingsMatchTransformers() throws {
    let (ranker, folder) = try loadRanker()
    defer { try? FileManager.default.removeItem(at: folder) }
    let io = try RankingFixture.io()
    let (images, mask) = try RankingFixture.batch()
    let (tokens, text) = ranker.textEmbedding(for: try RankingFixture.prompt)
    #expect(tokens.ids == (try io.tensor(named: "input_ids")).scalars.map { Int($0) })
    #expect(!tokens.wasTruncated)
    let textComparison = TensorComparison(text, try io.tensor(named: "text_embeds"))
    #expect(textComparison.isClose(relative: 1e-4), "\(textComparison)")
    let image = try ranker.imageEmbeddings(images: images, mask: mask)
    let imageComparison = TensorComparison(image, try io.tensor(named: "image_embeds"))
    #expect(imageComparison.isClose(relative: 1e-4), "\(imageComparison)")
  }

  @Test func distancesAndOrderMatchTransformers() throws {
    let (ranker, folder) = try loadRanker()
    defer { try? FileManager.default.removeItem(at: folder) }
    let io = try RankingFixture.io()
    let (images, mask) = try RankingFixture.batch()
    let prompt = try RankingFixture.prompt
    let distances = try ranker.distances(images: images, mask: mask, prompt: prompt)
    let expected = try io.tensor(named: "distances")
    let comparison = TensorComparison(
      Tensor(shape: [distances.count], scalars: distances), expected)
    #expect(comparison.isClose(relative: 1e-4), "\(comparison)")
    let order = try io.tensor(named: "order").scalars.map { Int($0) }
    let ranked = try ranker.rank(images: images, mask: mask, prompt: prompt)
    #expect(ranked.map(\.index) == order)
    #expect(ranked.map(\.distance) == order.map { distances[$0] })
    #expect(zip(ranked, ranked.dropFirst()).allSatisfy { $0.distance <= $1.distance })
    // The protocol view gives the same numbers.
    let ranking: any ResultRanker = ranker
    #expect(try ranking.scores(images: images, mask: mask, prompt: prompt) == distances)
    #expect(try ranking.rank(images: images, mask: mask, prompt: prompt) == ranked)
  }

  @Test func backgroundIsIgnoredAndPromptMatters() throws {
    let (ranker, folder) = try loadRanker()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (images, mask) = try RankingFixture.batch()
    let prompt = try RankingFixture.prompt
    // Changing pixels outside the mask changes nothing: the background is black before resizing.
    let outside = mask.map { 1 - $0 }
    let altered = images.map { $0 + outside.reshaped([1, 48, 48]) * 0.37 }
    #expect(
      try ranker.distances(images: altered, mask: mask, prompt: prompt)
        == ranker.distances(images: images, mask: mask, prompt: prompt))
    #expect(
      try ranker.distances(images: images, mask: mask, prompt: "a photo of a dog")
        != ranker.distances(images: images, mask: mask, prompt: prompt))
  }

  @Test(arguments: [(30, 48), (48, 31), (17, 40)])
  func nonSquareImagesArePaddedWithBlackToACentredSquare(height: Int, width: Int) throws {
    let (ranker, folder) = try loadRanker()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (images, mask) = try RankingFixture.batch()
    let cropped = images.map { $0.sliced(axis: 1, 0..<height).sliced(axis: 2, 0..<width) }
    let croppedMask = mask.sliced(axis: 0, 0..<height).sliced(axis: 1, 0..<width)
    let side = max(height, width)
    let (top, left) = ((side - height) / 2, (side - width) / 2)
    var paddedMask = Tensor(shape: [side, side])
    var paddedImages = Array(repeating: Tensor(shape: [3, side, side]), count: images.count)
    for i in 0..<height {
      for j in 0..<width {
        paddedMask[top + i, left + j] = croppedMask[i, j]
        for b in 0..<images.count {
          for c in 0..<3 { paddedImages[b][c, top + i, left + j] = cropped[b][c, i, j] }
        }
      }
    }
    let expected = try ranker.preprocessed(images: paddedImages, mask: paddedMask)
    let actual = try ranker.preprocessed(images: cropped, mask: croppedMask)
    #expect(actual.shape == [images.count, 3, 32, 32])
    #expect(TensorComparison(actual, expected).maxAbsoluteError == 0)
  }

  /// `Fixtures/ranking-resize` (`Tests/Reference/make_ranking_resize_fixtures.py`): torch's antialiased
  /// bicubic resize after masking and centred black padding, for down- and upscaling and non-square sizes.
  @Test(arguments: 0..<6)
  func preprocessingMatchesTorchOnOtherSizes(index: Int) throws {
    let (ranker, folder) = try loadRanker()
    defer { try? FileManager.default.removeItem(at: folder) }
    let cases = try SafetensorsFile(
      contentsOf: try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        .appendingPathComponent("ranking-resize/cases.safetensors"))
    let image = try cases.tensor(named: "image_\(index)")
    let mask = try cases.tensor(named: "mask_\(index)")
    let expected = try cases.tensor(named: "resized_\(index)")
    let actual = try ranker.preprocessed(images: [image], mask: mask)
    let comparison = TensorComparison(actual, expected.reshaped([1, 3, 32, 32]))
    #expect(comparison.isClose(relative: 1e-5), "\(image.shape): \(comparison)")
  }

  @Test func imagesAtTheVisionSizeAreNotResampled() throws {
    let (ranker, folder) = try loadRanker()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (images, _) = try RankingFixture.batch()
    let small = images.map { $0.sliced(axis: 1, 0..<32).sliced(axis: 2, 0..<32) }
    let ones = Tensor(shape: [32, 32], repeating: 1)
    let resized = try ranker.preprocessed(images: small, mask: ones)
    #expect(resized.scalars == Tensor.concatenated(small, axis: 0).scalars)
  }

  @Test func cosineDistanceIsOneMinusCosine() {
    let rows = Tensor(shape: [3, 2], scalars: [1, 0, 0, 2, -3, 0])
    let distances = CLIPRanker.cosineDistances(rows, to: Tensor(shape: [1, 2], scalars: [2, 0]))
    #expect(distances == [0, 1, 2])
    #expect(
      CLIPRanker.cosineDistances(Tensor(shape: [1, 2]), to: Tensor(shape: [2], scalars: [1, 1]))
        == [1])
    #expect(RankedResult.ascending([0.5, 0.2, 0.5, 0.1]).map(\.index) == [3, 1, 0, 2])
  }

  // MARK: - Errors

  /// Expects loading `folder` to fail with an error that `matches`, whose one-line description names every
  /// fragment (the folder or file, the field).
  func expectLoadError(
    _ folder: URL, mentioning fragments: [String], sourceLocation: SourceLocation = #_sourceLocation,
    _ matches: (RankingError) -> Bool
  ) {
    do {
      _ = try CLIPRanker(directory: folder)
      Issue.record("expected a RankingError", sourceLocation: sourceLocation)
    } catch {
      #expect(matches(error), "got \(error)", sourceLocation: sourceLocation)
      #expect(!error.description.contains("\n"), "\(error.description)", sourceLocation: sourceLocation)
      for fragment in fragments {
        #expect(
          error.description.contains(fragment), "'\(error.description)' lacks '\(fragment)'",
          sourceLocation: sourceLocation)
      }
    }
  }

  @Test func missingOrMalformedFoldersAreTypedErrors() throws {
    let missing = FileManager.default.temporaryDirectory.appendingPathComponent(
      "no-such-clip-\(UUID().uuidString)")
    expectLoadError(missing, mentioning: [missing.path, "not a CLIP model folder"]) {
      $0 == .notADirectory(path: missing.path)
    }
    let file = try RankingFixture.fixtureFolder.appendingPathComponent("config.json")
    expectLoadError(file, mentioning: [file.path, "not a CLIP model folder"]) { $0 == .notADirectory(path: file.path) }

    let noConfig = try RankingFixture.assemble(omitting: ["config.json"])
    defer { try? FileManager.default.removeItem(at: noConfig) }
    expectLoadError(noConfig, mentioning: ["CLIP model configuration", "config.json"]) {
      if case .configuration(.unreadable(let path, _)) = $0 { return path.hasSuffix("config.json") }
      return false
    }

    let badConfig = try RankingFixture.assemble(omitting: ["config.json"])
    defer { try? FileManager.default.removeItem(at: badConfig) }
    try Data("{\"text_config\": {\"hidden_size\": \"wide\"}, ".utf8).write(
      to: badConfig.appendingPathComponent("config.json"))
    expectLoadError(badConfig, mentioning: ["CLIP model configuration", "config.json"]) {
      if case .configuration = $0 { return true } else { return false }
    }

    let textOnly = try RankingFixture.assemble(omitting: ["config.json"])
    defer { try? FileManager.default.removeItem(at: textOnly) }
    try Data(#"{"model_type": "clip_text_model", "hidden_size": 16}"#.utf8)
      .write(to: textOnly.appendingPathComponent("config.json"))
    expectLoadError(textOnly, mentioning: ["model_type", "clip_text_model"]) {
      if case .configuration(.unsupported(_, "model_type", _)) = $0 {
        return true
      } else {
        return false
      }
    }

    let binOnly = try RankingFixture.assemble(omitting: ["model.safetensors"])
    defer { try? FileManager.default.removeItem(at: binOnly) }
    try Data([1, 2, 3]).write(to: binOnly.appendingPathComponent("pytorch_model.bin"))
    expectLoadError(binOnly, mentioning: ["CLIP model weights", "model.safetensors"]) {
      if case .weights(.missingFile(_, _, let tried)) = $0 {
        return tried.contains("model.safetensors")
      }
      return false
    }

    let truncated = try RankingFixture.assemble(omitting: ["model.safetensors"])
    defer { try? FileManager.default.removeItem(at: truncated) }
    let weights = try Data(
      contentsOf: RankingFixture.fixtureFolder.appendingPathComponent("model.safetensors"))
    try weights.prefix(weights.count / 2).write(
      to: truncated.appendingPathComponent("model.safetensors"))
    expectLoadError(truncated, mentioning: ["CLIP model weights", "model.safetensors"]) {
      if case .weights(.unreadable) = $0 { return true } else { return false }
    }

    let noVocabulary = try RankingFixture.assemble(omitting: ["vocab.json", "merges.txt"])
    defer { try? FileManager.default.removeItem(at: noVocabulary) }
    expectLoadError(noVocabulary, mentioning: ["CLIP tokenizer", "vocab.json"]) {
      if case .tokenizer(.missingFile(let path)) = $0 { return path.hasSuffix("vocab.json") }
      return false
    }

    let badMerges = try RankingFixture.assemble(omitting: ["merges.txt"])
    defer { try? FileManager.default.removeItem(at: badMerges) }
    try Data("#version: 0.2\nonlyonetoken\n".utf8).write(
      to: badMerges.appendingPathComponent("merges.txt"))
    expectLoadError(badMerges, mentioning: ["CLIP tokenizer", "line 2", "merges.txt"]) {
      if case .tokenizer(.invalidMerge(_, 2, _)) = $0 { return true } else { return false }
    }

    let longTokenizer = try RankingFixture.assemble(omitting: ["tokenizer_config.json"])
    defer { try? FileManager.default.removeItem(at: longTokenizer) }
    try Data(#"{"model_max_length": 100}"#.utf8).write(
      to: longTokenizer.appendingPathComponent("tokenizer_config.json"))
    expectLoadError(longTokenizer, mentioning: ["tokenizer and model differ", "max_position_embeddings"]) {
      if case .incompatibleTokenizer(_, let reason) = $0 {
        return reason.contains("max_position_embeddings")
      }
      return false
    }
  }

  @Test func tokenizerSubfolderIsUsedWhenTheFolderHasNone() throws {
    let folder = try RankingFixture.assemble()
    defer { try? FileManager.default.removeItem(at: folder) }
    let manager = FileManager.default
    let subfolder = folder.appendingPathComponent("tokenizer", isDirectory: true)
    try manager.createDirectory(at: subfolder, withIntermediateDirectories: true)
    for name in ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"] {
      try manager.moveItem(
        at: folder.appendingPathComponent(name), to: subfolder.appendingPathComponent(name))
    }
    let ranker = try CLIPRanker(directory: folder)
    let ids = try RankingFixture.io().tensor(named: "input_ids").scalars.map { Int($0) }
    #expect(ranker.textEmbedding(for: try RankingFixture.prompt).tokens.ids == ids)
  }

  @Test func tokenizerLargerThanTheVocabularyIsRejected() throws {
    let (ranker, folder) = try loadRanker()
    defer { try? FileManager.default.removeItem(at: folder) }
    var configuration = ranker.model.configuration
    configuration.textConfiguration.vocabSize = 1000
    let small = try CLIPModel(configuration: configuration)
    #expect {
      try CLIPRanker(model: small, tokenizer: ranker.tokenizer)
    } throws: { error in
      guard case .incompatibleTokenizer(_, let reason)? = error as? RankingError else {
        return false
      }
      return reason.contains("vocab_size is 1000")
    }
  }

  @Test func invalidInputsAreTypedErrors() throws {
    let (ranker, folder) = try loadRanker()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (images, mask) = try RankingFixture.batch()
    func expectError(
      _ images: [Tensor], _ mask: Tensor, _ expected: RankingError,
      sourceLocation: SourceLocation = #_sourceLocation
    ) {
      #expect(throws: expected, sourceLocation: sourceLocation) {
        try ranker.distances(images: images, mask: mask, prompt: "x")
      }
    }
    expectError([], mask, .emptyBatch)
    expectError(
      [Tensor(shape: [4, 48, 48])], mask, .invalidImageShape(index: 0, shape: [4, 48, 48]))
    expectError(
      [images[0], Tensor(shape: [48, 48])], mask, .invalidImageShape(index: 1, shape: [48, 48]))
    expectError(images, Tensor(shape: [1, 48, 48]), .invalidMaskShape([1, 48, 48]))
    expectError(
      images, Tensor(shape: [48, 40]), .sizeMismatch(index: 0, image: [48, 48], mask: [48, 40]))
    var nan = images[2]
    nan[1, 3, 4] = .nan
    expectError([images[0], images[1], nan], mask, .nonFiniteInput(name: "image 2"))
    var badMask = mask
    badMask[0, 0] = .infinity
    expectError(images, badMask, .nonFiniteInput(name: "mask"))
  }
}
