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

  @Test func missingWeightFile() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try FileManager.default.removeItem(
      at: directory.unetDirectory.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors")
    )
    #expect {
      try StableDiffusionModel(directory: directory)
    } throws: { error in
      guard case .missingFile(let component, _, let tried) = error as? WeightLoadingError else {
        return false
      }
      return component == "unet" && tried.contains("diffusion_pytorch_model.fp16.safetensors")
    }
  }

  @Test func missingConfigurationFile() throws {
    let directory = try NetworkFixture("sd1-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try FileManager.default.removeItem(at: directory.vaeConfiguration)
    #expect {
      try StableDiffusionModel(directory: directory)
    } throws: { error in
      guard case .unreadable(let file, _) = error as? ConfigurationError else { return false }
      return file.hasSuffix("vae/config.json")
    }
  }

  @Test func missingTokenizerFile() throws {
    let directory = try NetworkFixture("sd1-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try FileManager.default.removeItem(at: directory.tokenizerMerges)
    #expect(throws: TokenizerError.self) {
      try StableDiffusionModel(directory: directory)
    }
  }

  @Test func tokenizerLongerThanPositionEmbeddings() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.tokenizerDirectory.appendingPathComponent("tokenizer_config.json")) {
      $0["model_max_length"] = 100
    }
    #expect(
      throws: ConfigurationError.invalid(
        file: directory.textEncoderConfiguration.path, field: "max_position_embeddings",
        reason: "77 positions for the tokenizer's 100 tokens")
    ) {
      try StableDiffusionModel(directory: directory)
    }
  }

  @Test func missingShard() throws {
    let directory = try NetworkFixture("sd1-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let shards = try directory.unetWeights()
    #expect(shards.urls.count > 1, "the SD 1.x fixture UNet is sharded")
    try FileManager.default.removeItem(at: shards.urls[1])
    #expect {
      try StableDiffusionModel(directory: directory)
    } throws: { error in
      guard case .unreadable(let file, _) = error as? WeightLoadingError else { return false }
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
    #expect(
      throws: WeightLoadingError.duplicate(key: key, files: [shards[0].path, shards[1].path])
    ) {
      try StableDiffusionModel(directory: directory)
    }
  }

  @Test func missingTensor() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try rewriteWeights(directory.vaeWeights()) { $0["decoder.conv_out.bias"] = nil }
    #expect(
      throws: WeightLoadingError.missing(
        key: "decoder.conv_out.bias", file: try directory.vaeWeights().description)
    ) {
      try StableDiffusionModel(directory: directory)
    }
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
    #expect(
      throws: WeightLoadingError.shapeMismatch(
        key: key, file: file, expected: expected,
        found: [expected[0], expected[1], 1, 9])
    ) {
      try StableDiffusionModel(directory: directory)
    }
  }

  @Test func unusedTensor() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try rewriteWeights(directory.textEncoderWeights()) {
      $0["encoder.layers.7.mlp.fc1.weight"] = Tensor(shape: [2, 2])
    }
    let file = try directory.textEncoderWeights().urls[0].path
    #expect(
      throws: WeightLoadingError.unused(
        keys: ["encoder.layers.7.mlp.fc1.weight"], count: 1, file: file)
    ) {
      try StableDiffusionModel(directory: directory)
    }
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
    #expect(
      throws: ConfigurationError.unsupported(
        file: directory.unetConfiguration.path, field: field, value: value)
    ) {
      try StableDiffusionModel(directory: directory)
    }
  }

  @Test func unsupportedActivation() throws {
    let directory = try NetworkFixture("sd1-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.textEncoderConfiguration) { $0["hidden_act"] = "relu6" }
    #expect(
      throws: ConfigurationError.unsupported(
        file: directory.textEncoderConfiguration.path, field: "hidden_act",
        value: "relu6")
    ) {
      try StableDiffusionModel(directory: directory)
    }
  }

  @Test func unsupportedVAEOption() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.vaeConfiguration) {
      $0["down_block_types"] = [
        "DownEncoderBlock2D", "AttnDownEncoderBlock2D", "DownEncoderBlock2D",
      ]
    }
    #expect(
      throws: ConfigurationError.unsupported(
        file: directory.vaeConfiguration.path, field: "down_block_types",
        value: "AttnDownEncoderBlock2D")
    ) {
      try StableDiffusionModel(directory: directory)
    }
  }

  @Test func missingRequiredField() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.unetConfiguration) { $0["block_out_channels"] = nil }
    #expect(
      throws: ConfigurationError.missingField(
        file: directory.unetConfiguration.path, field: "block_out_channels")
    ) {
      try StableDiffusionModel(directory: directory)
    }
  }

  @Test func wrongComponentClass() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.modelIndex) { $0["unet"] = ["diffusers", "UNet2DModel"] }
    #expect(
      throws: ConfigurationError.unsupported(
        file: directory.modelIndex.path, field: "unet", value: "UNet2DModel")
    ) {
      try StableDiffusionModel(directory: directory)
    }
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
