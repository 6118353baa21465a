import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// The tiny random `CLIPModel` of `Tests/Reference/make_ranking_fixtures.py`, a resource of the
/// BlendedLatentTests target, found next to this file's folder.
enum CLIPRankingFixture {
  static var folder: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("BlendedLatentTests/Fixtures/clip-ranking", isDirectory: true)
  }

  static func io() throws -> SafetensorsFile {
    try SafetensorsFile(contentsOf: folder.appendingPathComponent("io.safetensors"))
  }

  /// A fresh temporary folder holding copies of `files` from the fixture folder.
  static func temporaryCopy(_ files: [String] = ["config.json", "model.safetensors"]) throws -> URL {
    let destination = FileManager.default.temporaryDirectory
      .appendingPathComponent("clip-model-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
    for file in files {
      try FileManager.default.copyItem(
        at: folder.appendingPathComponent(file), to: destination.appendingPathComponent(file))
    }
    return destination
  }
}

@Suite("CLIPModel: configuration, loading and parity with transformers")
struct CLIPModelTests {
  static let normalizationMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
  static let normalizationStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

  func decode(_ json: String) throws -> CLIPModelConfiguration {
    try CLIPModelConfiguration.decode(data: Data(json.utf8), file: "test/config.json")
  }

  func expectConfigurationError(
    _ json: String, _ expected: ConfigurationError,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(throws: expected, sourceLocation: sourceLocation) { try decode(json) }
  }

  @Test func fixtureConfigurationDecodes() throws {
    let configuration = try CLIPModelConfiguration.decode(
      contentsOf: CLIPRankingFixture.folder.appendingPathComponent("config.json"))
    #expect(configuration.projectionDim == 12)
    #expect(configuration.eosTokenID == 49407)
    #expect(!configuration.usesLegacyPooling)
    #expect(configuration.textConfiguration.hiddenSize == 16)
    #expect(configuration.textConfiguration.numHiddenLayers == 2)
    #expect(configuration.visionConfiguration.hiddenSize == 24)
    #expect(configuration.visionConfiguration.imageSize == 32)
    #expect(configuration.visionConfiguration.patchSize == 8)
    #expect(configuration.visionConfiguration.tokenCount == 17)
    // The standalone vision decoder reads a whole CLIPModel file's vision_config.
    let vision = try CLIPVisionConfiguration.decode(
      contentsOf: CLIPRankingFixture.folder.appendingPathComponent("config.json"))
    #expect(vision == configuration.visionConfiguration)
  }

  @Test func absentFieldsTakeTransformersDefaults() throws {
    let configuration = try decode(
      #"{"model_type": "clip", "text_config": {}, "vision_config": {"patch_size": 16}}"#)
    #expect(configuration.textConfiguration == CLIPModelConfiguration.vitB16.textConfiguration)
    #expect(configuration.visionConfiguration == .vitB16)
    #expect(configuration.projectionDim == 512)
    #expect(configuration.eosTokenID == 49407)
    #expect(configuration.logitScaleInitValue == 2.6592)
  }

  @Test func legacyDictionariesReplaceTheConfigs() throws {
    let configuration = try decode(
      #"""
      {"text_config": {"hidden_size": 64, "eos_token_id": 2},
       "text_config_dict": {"hidden_size": 32, "num_attention_heads": 4},
       "vision_config": {"hidden_size": 64},
       "vision_config_dict": {"hidden_size": 48, "num_attention_heads": 4, "image_size": 64, "patch_size": 16},
       "projection_dim": 8}
      """#)
    #expect(configuration.textConfiguration.hiddenSize == 32)
    // The dict, completed with defaults, wins over text_config.
    #expect(configuration.eosTokenID == 49407)
    #expect(configuration.visionConfiguration.hiddenSize == 48)
    #expect(configuration.visionConfiguration.imageSize == 64)
    #expect(configuration.projectionDim == 8)
  }

  @Test func legacyEOSAndListEOS() throws {
    #expect(
      try decode(#"{"text_config": {"eos_token_id": 2}, "vision_config": {}}"#).usesLegacyPooling)
    #expect(
      try decode(#"{"text_config": {"eos_token_id": [7]}, "vision_config": {}}"#).eosTokenID == 7)
    expectConfigurationError(
      #"{"text_config": {"eos_token_id": [7, 8]}, "vision_config": {}}"#,
      .unsupported(
        file: "test/config.json", field: "text_config.eos_token_id",
        value: "[7, 8] (one id is needed for pooling)"))
  }

  @Test func malformedConfigurationsAreTypedErrors() throws {
    expectConfigurationError(
      #"{"model_type": "clip_text_model", "hidden_size": 16}"#,
      .unsupported(
        file: "test/config.json", field: "model_type",
        value: #"clip_text_model (a CLIPModel configuration has model_type "clip")"#))
    expectConfigurationError(
      #"{"vision_config": {}}"#, .missingField(file: "test/config.json", field: "text_config"))
    expectConfigurationError(
      #"{"text_config": {}}"#, .missingField(file: "test/config.json", field: "vision_config"))
    expectConfigurationError(
      #"{"text_config": {"hidden_act": "relu"}, "vision_config": {}}"#,
      .unsupported(file: "test/config.json", field: "text_config.hidden_act", value: "relu"))
    expectConfigurationError(
      #"{"text_config": {}, "vision_config": {"hidden_size": 30, "num_attention_heads": 4}}"#,
      .invalid(
        file: "test/config.json", field: "vision_config.num_attention_heads",
        reason: "hidden_size 30 is not divisible into 4 heads"))
    expectConfigurationError(
      #"{"text_config": {}, "vision_config": {"image_size": 16, "patch_size": 32}}"#,
      .invalid(
        file: "test/config.json", field: "vision_config.patch_size",
        reason: "patch side 32 exceeds the image side 16"))
    expectConfigurationError(
      #"{"text_config": {}, "vision_config": {}, "projection_dim": 0}"#,
      .invalid(file: "test/config.json", field: "projection_dim", reason: "must be positive, got 0")
    )
    #expect(throws: ConfigurationError.self) {
      try decode(#"{"text_config": {}, "vision_config": {"image_size": [224, 224]}}"#)
    }
    #expect(throws: ConfigurationError.self) { try decode("not json") }
  }

  @Test func parameterKeysAreTheCheckpointKeys() throws {
    let model = try CLIPModel(
      configuration: CLIPModelConfiguration.decode(
        contentsOf: CLIPRankingFixture.folder.appendingPathComponent("config.json")))
    let file = try SafetensorsFile(
      contentsOf: CLIPRankingFixture.folder.appendingPathComponent("model.safetensors"))
    #expect(model.parameterEntries.map(\.key).sorted() == file.tensorNames.sorted())
    #expect(model.parameterEntries.first { $0.key == "logit_scale" }?.shape == [])
  }

  @Test func loadedModelMatchesTransformers() throws {
    let model = try CLIPModel(directory: CLIPRankingFixture.folder)
    let report = try #require(model.loadReport)
    #expect(report.tensorCount == model.parameterEntries.count)
    let io = try CLIPRankingFixture.io()

    // Image features from the fixture's resized pixels, normalised as transformers' processor does.
    let resized = try io.tensor(named: "resized")
    let mean = Tensor(shape: [1, 3, 1, 1], scalars: Self.normalizationMean)
    let std = Tensor(shape: [1, 3, 1, 1], scalars: Self.normalizationStd)
    let imageFeatures = model.imageFeatures((resized - mean) / std)
    let imageComparison = TensorComparison(imageFeatures, try io.tensor(named: "image_embeds"))
    #expect(imageComparison.isClose(relative: 1e-4), "\(imageComparison)")

    let ids = try io.tensor(named: "input_ids").scalars.map { Int($0) }
    let textFeatures = model.textFeatures([ids])
    let textComparison = TensorComparison(textFeatures, try io.tensor(named: "text_embeds"))
    #expect(textComparison.isClose(relative: 1e-4), "\(textComparison)")
  }

  @Test func pooledPositionsFollowTransformersRules() throws {
    var configuration = CLIPModelConfiguration(
      textConfiguration: CLIPTextConfiguration(
        vocabSize: 100, hiddenSize: 8, intermediateSize: 16, numAttentionHeads: 2,
        numHiddenLayers: 1),
      visionConfiguration: CLIPVisionConfiguration(
        hiddenSize: 8, intermediateSize: 16, numAttentionHeads: 2, numHiddenLayers: 1, imageSize: 8,
        patchSize: 4),
      projectionDim: 4, eosTokenID: 99)
    let rows = [[98, 5, 99, 99, 99], [98, 5, 7, 99, 0], [98, 5, 7, 8, 9]]
    #expect(
      try CLIPModel(configuration: configuration).pooledTokenPositions(for: rows) == [2, 3, 0])
    configuration.eosTokenID = 2  // legacy rule: argmax of the ids, first on ties
    #expect(
      try CLIPModel(configuration: configuration).pooledTokenPositions(for: rows) == [2, 3, 0])
    #expect(
      try CLIPModel(configuration: configuration).pooledTokenPositions(for: [[3, 40, 2, 40]]) == [1]
    )
    configuration.eosTokenID = 3
    #expect(
      try CLIPModel(configuration: configuration).pooledTokenPositions(for: [[3, 40, 2, 40]]) == [0]
    )
  }

  @Test func textFeaturesPoolAtThePooledPosition() throws {
    // Pooling at the first end token: what follows it changes nothing (causal attention); moving the end
    // token changes the result.
    let model = try CLIPModel(directory: CLIPRankingFixture.folder)
    let ids = [49406, 320, 1400, 49407, 49407, 49407]
    let other = [49406, 320, 1400, 49407, 0, 0]
    let a = model.textFeatures([ids])
    let b = model.textFeatures([other])
    #expect(TensorComparison(a, b).maxAbsoluteError == 0)
    let c = model.textFeatures([[49406, 320, 1400, 1401, 49407, 0]])
    #expect(TensorComparison(a, c).maxAbsoluteError > 1e-4)
  }

  @Test func missingAndMalformedFoldersAreTypedErrors() throws {
    // pytorch_model.bin only: no safetensors weights.
    let binOnly = try CLIPRankingFixture.temporaryCopy(["config.json"])
    defer { try? FileManager.default.removeItem(at: binOnly) }
    try Data([0, 1, 2]).write(to: binOnly.appendingPathComponent("pytorch_model.bin"))
    #expect {
      try CLIPModel(directory: binOnly)
    } throws: { error in
      guard case WeightLoadingError.missingFile(_, _, let tried)? = error as? WeightLoadingError
      else { return false }
      return tried.contains("model.safetensors") && tried.contains("model.safetensors.index.json")
    }
    // No config.json.
    let noConfig = try CLIPRankingFixture.temporaryCopy(["model.safetensors"])
    defer { try? FileManager.default.removeItem(at: noConfig) }
    #expect(throws: ConfigurationError.self) { try CLIPModel(directory: noConfig) }
    // A configuration the weights do not fit.
    let wrong = try CLIPRankingFixture.temporaryCopy(["model.safetensors"])
    defer { try? FileManager.default.removeItem(at: wrong) }
    var json = try String(
      contentsOf: CLIPRankingFixture.folder.appendingPathComponent("config.json"), encoding: .utf8)
    json = json.replacingOccurrences(of: "\"projection_dim\": 12", with: "\"projection_dim\": 10")
    try json.write(
      to: wrong.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
    #expect {
      try CLIPModel(directory: wrong)
    } throws: { error in
      guard
        case WeightLoadingError.shapeMismatch(let key, _, let expected, let found)? = error
          as? WeightLoadingError
      else { return false }
      return key.hasSuffix("_projection.weight") && expected.first == 10 && found.first == 12
    }
    // An fp16-variant file name and a sharded index load too.
    let variant = try CLIPRankingFixture.temporaryCopy(["config.json"])
    defer { try? FileManager.default.removeItem(at: variant) }
    try FileManager.default.copyItem(
      at: CLIPRankingFixture.folder.appendingPathComponent("model.safetensors"),
      to: variant.appendingPathComponent("model.fp16.safetensors"))
    #expect(
      try CLIPModel.weightFiles(in: variant).urls.map(\.lastPathComponent) == [
        "model.fp16.safetensors"
      ])
    _ = try CLIPModel(directory: variant)
  }

  @Test func shardedCheckpointLoads() throws {
    let folder = try CLIPRankingFixture.temporaryCopy(["config.json"])
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = try SafetensorsFile(
      contentsOf: CLIPRankingFixture.folder.appendingPathComponent("model.safetensors"))
    var shards: [[String: Tensor]] = [[:], [:]]
    var weightMap: [String: String] = [:]
    for name in file.tensorNames {
      let shard = name.hasPrefix("vision_model.") ? 1 : 0
      shards[shard][name] = try file.tensor(named: name)
      weightMap[name] = "model-0000\(shard + 1)-of-00002.safetensors"
    }
    for (index, tensors) in shards.enumerated() {
      try SafetensorsFile.write(
        tensors, to: folder.appendingPathComponent("model-0000\(index + 1)-of-00002.safetensors"))
    }
    let index = try JSONSerialization.data(withJSONObject: [
      "metadata": [:], "weight_map": weightMap,
    ])
    try index.write(to: folder.appendingPathComponent("model.safetensors.index.json"))
    let sharded = try CLIPModel(directory: folder)
    let single = try CLIPModel(directory: CLIPRankingFixture.folder)
    let ids = [[49406, 320, 49407]]
    #expect(
      TensorComparison(sharded.textFeatures(ids), single.textFeatures(ids)).maxAbsoluteError == 0)
    #expect(sharded.loadReport?.files.count == 2)
  }
}
