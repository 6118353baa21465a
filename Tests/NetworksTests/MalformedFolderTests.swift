import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// Malformed copies of the fixture folders (built in a temporary directory) give typed errors naming the
/// problem, never a crash.
@Suite("Malformed model folders give typed errors")
struct MalformedFolderTests {
  /// Rewrites one component's single weight file with `edit` applied to its tensors (stored as F32).
  func rewriteWeights(_ files: WeightFiles, _ edit: (inout [String: Tensor]) -> Void) throws {
    let url = try #require(files.urls.first)
    let file = try SafetensorsFile(contentsOf: url)
    var tensors: [String: Tensor] = [:]
    for name in file.tensorNames { tensors[name] = try file.tensor(named: name) }
    edit(&tensors)
    try SafetensorsFile.write(tensors, to: url)
  }

  func editJSON(_ url: URL, _ edit: (inout [String: Any]) -> Void) throws {
    var object = try #require(
      JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    edit(&object)
    try JSONSerialization.data(withJSONObject: object).write(to: url)
  }

  /// Loads `directory` expecting a ``ModelLoadingError`` for `component` of the folder whose cause `matches`,
  /// with a one-line description that is also its `localizedDescription`.
  func expectLoadingError(
    _ directory: ModelDirectory, component: String?, sourceLocation: SourceLocation = #_sourceLocation,
    _ matches: (ModelLoadingError.Cause) -> Bool
  ) {
    do {
      _ = try StableDiffusionModel(directory: directory)
      Issue.record("the folder loaded", sourceLocation: sourceLocation)
    } catch {
      #expect(
        error.folder == directory.root.path && error.component == component, "\(error)", sourceLocation: sourceLocation)
      #expect(matches(error.cause), "\(error)", sourceLocation: sourceLocation)
      #expect(
        !error.description.contains("\n") && error.localizedDescription == error.description,
        sourceLocation: sourceLocation)
      #expect(
        error.description.hasPrefix("cannot load the model in \(directory.root.path)"), sourceLocation: sourceLocation)
    }
  }

  func expectLoadingError(
    _ directory: ModelDirectory, component: String?, _ expected: ConfigurationError,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    expectLoadingError(directory, component: component, sourceLocation: sourceLocation) { cause in
      guard case .configuration(let error) = cause else { return false }
      return error == expected
    }
  }

  func expectLoadingError(
    _ directory: ModelDirectory, component: String?, _ expected: WeightLoadingError,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    expectLoadingError(directory, component: component, sourceLocation: sourceLocation) { cause in
      guard case .weights(let error) = cause else { return false }
      return error == expected
    }
  }

  @Test func missingWeightFile() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try FileManager.default.removeItem(
      at: directory.unetDirectory.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors")
    )
    expectLoadingError(directory, component: "unet") { cause in
      guard case .weights(.missingFile(let component, _, let tried)) = cause else {
        return false
      }
      return component == "unet" && tried.contains("diffusion_pytorch_model.fp16.safetensors")
    }
  }

  @Test func missingConfigurationFile() throws {
    let directory = try NetworkFixture("sd1-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try FileManager.default.removeItem(at: directory.vaeConfiguration)
    expectLoadingError(directory, component: "vae") { cause in
      guard case .configuration(.unreadable(let file, _)) = cause else { return false }
      return file.hasSuffix("vae/config.json")
    }
  }

  @Test func missingTokenizerFile() throws {
    let directory = try NetworkFixture("sd1-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try FileManager.default.removeItem(at: directory.tokenizerMerges)
    expectLoadingError(directory, component: "tokenizer") { cause in
      guard case .tokenizer(.missingFile(let path)) = cause else { return false }
      return path == directory.tokenizerMerges.path
    }
  }

  @Test func tokenizerLongerThanPositionEmbeddings() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.tokenizerDirectory.appendingPathComponent("tokenizer_config.json")) {
      $0["model_max_length"] = 100
    }
    expectLoadingError(
      directory, component: "text_encoder",
      ConfigurationError.invalid(
        file: directory.textEncoderConfiguration.path, field: "max_position_embeddings",
        reason: "77 positions for the tokenizer's 100 tokens"))
  }

  @Test func missingShard() throws {
    let directory = try NetworkFixture("sd1-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let shards = try directory.unetWeights()
    #expect(shards.urls.count > 1, "the SD 1.x fixture UNet is sharded")
    try FileManager.default.removeItem(at: shards.urls[1])
    expectLoadingError(directory, component: "unet") { cause in
      guard case .weights(.unreadable(let file, _)) = cause else { return false }
      return file == shards.urls[1].path
    }
  }

  @Test func duplicateTensorAcrossShards() throws {
    let directory = try NetworkFixture("sd1-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let shards = try directory.unetWeights().urls
    let first = try SafetensorsFile(contentsOf: shards[0])
    let key = try #require(first.tensorNames.first)
    let second = try SafetensorsFile(contentsOf: shards[1])
    var tensors: [String: Tensor] = [:]
    for name in second.tensorNames { tensors[name] = try second.tensor(named: name) }
    tensors[key] = try first.tensor(named: key)
    try SafetensorsFile.write(tensors, to: shards[1])
    expectLoadingError(
      directory, component: "unet", WeightLoadingError.duplicate(key: key, files: [shards[0].path, shards[1].path]))
  }

  @Test func missingTensor() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try rewriteWeights(directory.vaeWeights()) { $0["decoder.conv_out.bias"] = nil }
    expectLoadingError(
      directory, component: "vae",
      WeightLoadingError.missing(
        key: "decoder.conv_out.bias", file: try directory.vaeWeights().description))
  }

  @Test func wrongShape() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let key = "down_blocks.0.resnets.0.conv1.weight"
    var expected: [Int] = []
    try rewriteWeights(directory.unetWeights()) { tensors in
      expected = tensors[key]!.shape
      tensors[key] = Tensor(shape: [expected[0], expected[1], 1, 9])
    }
    let file = try directory.unetWeights().urls[0].path
    expectLoadingError(
      directory, component: "unet",
      WeightLoadingError.shapeMismatch(
        key: key, file: file, expected: expected,
        found: [expected[0], expected[1], 1, 9]))
  }

  @Test func unusedTensor() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try rewriteWeights(directory.textEncoderWeights()) {
      $0["encoder.layers.7.mlp.fc1.weight"] = Tensor(shape: [2, 2])
    }
    let file = try directory.textEncoderWeights().urls[0].path
    expectLoadingError(
      directory, component: "text_encoder",
      WeightLoadingError.unused(
        keys: ["encoder.layers.7.mlp.fc1.weight"], count: 1, file: file))
  }

  @Test(
    "unsupported UNet block type",
    arguments: [
      ("down_block_types", "SimpleCrossAttnDownBlock2D"),
      ("up_block_types", "ResnetUpsampleBlock2D"),
    ])
  func unsupportedBlockType(field: String, value: String) throws {
    let directory = try NetworkFixture("sd1-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.unetConfiguration) { object in
      var types = object[field] as! [String]
      types[0] = value
      object[field] = types
    }
    expectLoadingError(
      directory, component: "unet",
      ConfigurationError.unsupported(
        file: directory.unetConfiguration.path, field: field, value: value))
  }

  @Test func unsupportedActivation() throws {
    let directory = try NetworkFixture("sd1-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.textEncoderConfiguration) { $0["hidden_act"] = "relu6" }
    expectLoadingError(
      directory, component: "text_encoder",
      ConfigurationError.unsupported(
        file: directory.textEncoderConfiguration.path, field: "hidden_act",
        value: "relu6"))
  }

  @Test func unsupportedVAEOption() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.vaeConfiguration) {
      $0["down_block_types"] = [
        "DownEncoderBlock2D", "AttnDownEncoderBlock2D", "DownEncoderBlock2D",
      ]
    }
    expectLoadingError(
      directory, component: "vae",
      ConfigurationError.unsupported(
        file: directory.vaeConfiguration.path, field: "down_block_types",
        value: "AttnDownEncoderBlock2D"))
  }

  @Test func missingRequiredField() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.unetConfiguration) { $0["block_out_channels"] = nil }
    expectLoadingError(
      directory, component: "unet",
      ConfigurationError.missingField(
        file: directory.unetConfiguration.path, field: "block_out_channels"))
  }

  @Test func wrongComponentClass() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.modelIndex) { $0["unet"] = ["diffusers", "UNet2DModel"] }
    expectLoadingError(
      directory, component: nil,
      ConfigurationError.unsupported(
        file: directory.modelIndex.path, field: "unet", value: "UNet2DModel"))
  }

  @Test func bfloat16WeightsLoad() throws {
    let fixture = try NetworkFixture("sd2-tiny")
    let directory = try fixture.temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let url = try directory.vaeWeights().urls[0]
    let file = try SafetensorsFile(contentsOf: url)
    var tensors: [String: Tensor] = [:]
    for name in file.tensorNames { tensors[name] = try file.tensor(named: name) }
    try SafetensorsFile.write(tensors, dtype: .bfloat16, to: url)
    #expect(
      try SafetensorsFile(contentsOf: url).entries.values.allSatisfy { $0.dtype == .bfloat16 })
    let vae = try AutoencoderKL(configuration: .decode(contentsOf: directory.vaeConfiguration))
    let report = try WeightLoader.load(directory.vaeWeights(), into: vae)
    #expect(report.tensorCount == vae.parameterEntries.count)
    let comparison = TensorComparison(
      vae.decode(try fixture.tensor("vae.latents")), try fixture.tensor("vae.decoded"))
    #expect(comparison.isClose(relative: 5e-2), "bfloat16 weights: \(comparison)")
  }

  @Test func deprecatedVAEAttentionNamesLoad() throws {
    let fixture = try NetworkFixture("sd1-tiny")
    let directory = try fixture.temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let renames = ["to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"]
    try rewriteWeights(directory.vaeWeights()) { tensors in
      for (name, tensor) in tensors where name.contains("mid_block.attentions.0.to_") {
        var old = name
        for (new, deprecated) in renames {
          old = old.replacingOccurrences(of: ".\(new).", with: ".\(deprecated).")
        }
        tensors[name] = nil
        tensors[old] = tensor
      }
    }
    let names = try SafetensorsFile(contentsOf: directory.vaeWeights().urls[0]).tensorNames
    #expect(names.contains("encoder.mid_block.attentions.0.proj_attn.weight"))
    #expect(names.contains("decoder.mid_block.attentions.0.query.bias"))
    let model = try StableDiffusionModel(directory: directory)
    let comparison = TensorComparison(
      model.vae.decode(try fixture.tensor("vae.latents")), try fixture.tensor("vae.decoded"))
    #expect(comparison.isClose(relative: 1e-4), "\(comparison)")
    // Without the renaming the deprecated names are unused tensors.
    let vae = try AutoencoderKL(configuration: .decode(contentsOf: directory.vaeConfiguration))
    #expect(throws: WeightLoadingError.self) {
      try WeightLoader.load(directory.vaeWeights(), into: vae)
    }
  }

  @Test func explicitVariantMissing() throws {
    let fixture = try NetworkFixture("sd1-tiny")
    let directory = ModelDirectory(root: fixture.directory.root, variant: "fp16")
    #expect {
      try directory.vaeWeights()
    } throws: { error in
      guard case .missingFile(let component, _, let tried) = error as? WeightLoadingError else {
        return false
      }
      return component == "vae"
        && tried == [
          "diffusion_pytorch_model.fp16.safetensors",
          "diffusion_pytorch_model.safetensors.index.fp16.json",
        ]
    }
  }
}
