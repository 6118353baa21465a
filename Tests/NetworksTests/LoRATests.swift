import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// LoRA files in the kohya, diffusers / PEFT and attention-processor layouts, applied on read to the tiny
/// SD 1.x / 2.x folders, match diffusers with the same LoRAs fused (`Tests/Reference/make_lora_fixtures.py`).
@Suite("LoRA files applied on read match diffusers' fused LoRAs")
struct LoRATests {
  /// Relative to the largest reference value, as `TensorComparison` measures it.
  static let tolerance = 1e-5

  /// A case of `lora/io.safetensors`: the model fixture and the LoRA files with their scales.
  struct Case: CustomStringConvertible, Sendable {
    let name: String
    let model: String
    let loras: [(file: String, scale: Float)]
    var description: String { name }
  }

  static let cases = [
    Case(name: "sd1-kohya", model: "sd1-tiny", loras: [("sd1-kohya", 0.8)]),
    Case(name: "sd1-peft", model: "sd1-tiny", loras: [("sd1-peft", 1.3)]),
    Case(name: "sd1-processor", model: "sd1-tiny", loras: [("sd1-processor", 1)]),
    Case(name: "sd1-two", model: "sd1-tiny", loras: [("sd1-kohya", 0.7), ("sd1-peft", -0.5)]),
    Case(name: "sd2-kohya", model: "sd2-tiny", loras: [("sd2-kohya", 0.9)]),
  ]

  static var folder: URL {
    get throws {
      guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw CocoaError(.fileNoSuchFile)
      }
      return fixtures.appendingPathComponent("lora", isDirectory: true)
    }
  }

  static func lora(_ name: String) throws -> LoRA {
    try LoRA(contentsOf: folder.appendingPathComponent("\(name).safetensors"))
  }

  static func model(_ name: String) throws -> StableDiffusionModel {
    try StableDiffusionModel(directory: NetworkFixture(name).directory)
  }

  @Test("UNet and text encoder outputs", arguments: cases)
  func parity(_ testCase: Case) throws {
    let io = try SafetensorsFile(contentsOf: Self.folder.appendingPathComponent("io.safetensors"))
    let model = try Self.model(testCase.model)
    try model.apply(testCase.loras.map { ScaledLoRA(try Self.lora($0.file), scale: $0.scale) })

    let family = testCase.model.hasPrefix("sd2") ? "sd2" : "sd1"
    let output = model.unet(
      try io.tensor(named: "unet.sample"), timestep: Double(try io.tensor(named: "unet.timestep").scalars[0]),
      encoderHiddenStates: try io.tensor(named: "\(family).encoder_hidden_states"))
    let unetComparison = TensorComparison(output, try io.tensor(named: "\(testCase.name).unet"))
    #expect(unetComparison.isClose(relative: Self.tolerance), "\(testCase.name) UNet: \(unetComparison)")

    let ids = try io.tensor(named: "clip.input_ids")
    let rows = (0..<ids.shape[0]).map { row in (0..<ids.shape[1]).map { Int(ids.scalars[row * ids.shape[1] + $0]) } }
    let textComparison = TensorComparison(model.textEncoder(rows), try io.tensor(named: "\(testCase.name).text"))
    #expect(textComparison.isClose(relative: Self.tolerance), "\(testCase.name) text: \(textComparison)")
  }

  @Test("a single-file checkpoint takes the same LoRAs", arguments: ["sd1", "sd2"])
  func singleFileCheckpoint(family: String) throws {
    let testCase = try #require(Self.cases.first { $0.name == "\(family)-kohya" })
    let io = try SafetensorsFile(contentsOf: Self.folder.appendingPathComponent("io.safetensors"))
    let model = try StableDiffusionModel(
      checkpoint: SingleFileCheckpointTests.file("\(family)-tiny.safetensors"),
      configurations: NetworkFixture("\(family)-tiny").directory)
    try model.apply(testCase.loras.map { ScaledLoRA(try Self.lora($0.file), scale: $0.scale) })
    let output = model.unet(
      try io.tensor(named: "unet.sample"), timestep: Double(try io.tensor(named: "unet.timestep").scalars[0]),
      encoderHiddenStates: try io.tensor(named: "\(family).encoder_hidden_states"))
    let comparison = TensorComparison(output, try io.tensor(named: "\(testCase.name).unet"))
    #expect(comparison.isClose(relative: Self.tolerance), "\(testCase.name) UNet: \(comparison)")
  }

  @Test func filesReadInEveryLayout() throws {
    let kohya = try Self.lora("sd1-kohya")
    #expect(kohya.modules.allSatisfy { if case .underscored = $0.layer { true } else { false } })
    #expect(Set(kohya.modules.map(\.component)) == [.unet, .textEncoder])
    let conv = try #require(kohya.modules.first { $0.keyPrefix == "lora_unet_down_blocks_0_resnets_0_conv1" })
    #expect(conv.down.shape == [4, 32, 3, 3] && conv.up.shape == [32, 4, 1, 1] && conv.alpha == 2)
    #expect(conv.rank == 4 && conv.alphaScale == 0.5)

    let peft = try Self.lora("sd1-peft")
    #expect(peft.modules.allSatisfy { $0.alpha == nil && $0.alphaScale == 1 })
    let processor = try Self.lora("sd1-processor")
    #expect(
      processor.modules.contains {
        $0.layer == .dotted("mid_block.attentions.0.transformer_blocks.0.attn2.to_out.0")
      })
  }

  @Test func baseWeightsStayMappedAndOnlyFactorsAreHeld() throws {
    let model = try Self.model("sd1-tiny")
    let before = model.unet.parameterByteCount  // the float32 biases and norms; the weights stay in the file
    let lora = try Self.lora("sd1-kohya")
    try model.apply(lora, scale: 0.8)
    let changed = (model.unet.parameterEntries + model.textEncoder.parameterEntries).filter {
      !$0.stored().lowRankUpdates.isEmpty
    }
    #expect(changed.count == lora.modules.count)
    #expect(changed.allSatisfy { $0.stored().isMappedFromFile })
    let factorBytes = lora.modules.filter { $0.component == .unet }.reduce(0) {
      $0 + ($1.down.count + $1.up.count) * 4
    }
    #expect(model.unet.parameterByteCount == before + factorBytes)

    model.removeLoRAs()
    #expect(model.unet.parameterByteCount == before)
    #expect(
      (model.unet.parameterEntries + model.textEncoder.parameterEntries).allSatisfy {
        $0.stored().lowRankUpdates.isEmpty
      })
  }

  @Test func removingLoRAsRestoresTheBaseOutputs() throws {
    let model = try Self.model("sd1-tiny")
    let ids = [[1, 2, 3] + Array(repeating: 0, count: 74)]
    let base = model.textEncoder(ids)
    try model.apply(try Self.lora("sd1-kohya"))
    #expect(model.textEncoder(ids) != base)
    model.removeLoRAs()
    #expect(model.textEncoder(ids) == base)
  }

  @Test func eachModuleUsesItsOwnAlpha() throws {
    let model = try Self.model("sd1-tiny")
    let path = "down_blocks.0.attentions.0.transformer_blocks.0.attn1"
    let entries = Dictionary(uniqueKeysWithValues: model.unet.parameterEntries.map { ($0.key, $0) })
    let query = try #require(entries["\(path).to_q.weight"])
    let key = try #require(entries["\(path).to_k.weight"])
    let (baseQuery, baseKey) = (query.get(), key.get())
    let down = Tensor(shape: [2, 32]) { for index in $0.indices { $0[index] = Float(index % 7) * 0.1 - 0.3 } }
    let up = Tensor(shape: [32, 2]) { for index in $0.indices { $0[index] = Float(index % 5) * 0.2 - 0.4 } }
    let url = try LoRAFile.write([
      "lora_unet_\(path.replacingOccurrences(of: ".", with: "_"))_to_q.lora_down.weight": down,
      "lora_unet_\(path.replacingOccurrences(of: ".", with: "_"))_to_q.lora_up.weight": up,
      "lora_unet_\(path.replacingOccurrences(of: ".", with: "_"))_to_q.alpha": Tensor(1),
      "lora_unet_\(path.replacingOccurrences(of: ".", with: "_"))_to_k.lora_down.weight": down,
      "lora_unet_\(path.replacingOccurrences(of: ".", with: "_"))_to_k.lora_up.weight": up,
      "lora_unet_\(path.replacingOccurrences(of: ".", with: "_"))_to_k.alpha": Tensor(6),
    ])
    defer { try? FileManager.default.removeItem(at: url) }
    try model.apply(try LoRA(contentsOf: url), scale: 2)
    let product = matmul(up, down)
    for (entry, base, alpha) in [(query, baseQuery, Float(1)), (key, baseKey, 6)] {
      let expected = base + product * (2 * alpha / 2)
      let comparison = TensorComparison(entry.get(), expected)
      #expect(comparison.isClose(relative: 1e-6), "alpha \(alpha): \(comparison)")
    }
  }
}

extension LoRATests {
  @Test func peftAlphasComeFromDiffusersHeaderMetadata() throws {
    let path = "down_blocks.0.attentions.0.transformer_blocks.0.attn1"
    var tensors: [String: Tensor] = [:]
    for projection in ["to_q", "to_k", "to_v"] {
      tensors["unet.\(path).\(projection).lora_A.weight"] = Tensor(shape: [2, 32])
      tensors["unet.\(path).\(projection).lora_B.weight"] = Tensor(shape: [32, 2])
    }
    tensors["text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight"] = Tensor(shape: [2, 32])
    tensors["text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_B.weight"] = Tensor(shape: [64, 2])
    tensors["unet.\(path).to_v.alpha"] = Tensor(3)
    let metadata = #"{"unet.r": 2, "unet.lora_alpha": 8, "unet.alpha_pattern": {"to_k": 4}}"#
    let url = try LoRAFile.write(tensors, metadata: ["lora_adapter_metadata": metadata])
    defer { try? FileManager.default.removeItem(at: url) }
    let alphas = Dictionary(uniqueKeysWithValues: try LoRA(contentsOf: url).modules.map { ($0.keyPrefix, $0.alpha) })
    #expect(alphas["unet.\(path).to_q"] == 8 && alphas["unet.\(path).to_k"] == 4)
    #expect(alphas["unet.\(path).to_v"] == 3, "an alpha tensor wins")
    #expect(alphas["text_encoder.text_model.encoder.layers.0.mlp.fc1"] == .some(nil), "no text_encoder.lora_alpha")
  }
}

extension LoRATests {
  @Test func sdxlSecondTextEncoderTakesTe2Modules() throws {
    let model = try StableDiffusionModel(directory: NetworkFixture("sdxl-tiny").directory)
    let second = try #require(model.secondTextEncoder)
    let name = "text_model_encoder_layers_0_self_attn_q_proj"
    let url = try LoRAFile.write([
      "lora_te2_\(name).lora_down.weight": Tensor(shape: [2, 32], repeating: 0.1),
      "lora_te2_\(name).lora_up.weight": Tensor(shape: [32, 2], repeating: 0.2),
      "lora_te1_\(name).lora_down.weight": Tensor(shape: [2, 24], repeating: 0.1),  // the first encoder is 24 wide
      "lora_te1_\(name).lora_up.weight": Tensor(shape: [24, 2], repeating: 0.2),
    ])
    defer { try? FileManager.default.removeItem(at: url) }
    try model.apply(try LoRA(contentsOf: url))
    let changed = { (entries: [ParameterRegistry.Entry]) in
      entries.filter { !$0.stored().lowRankUpdates.isEmpty }.map(\.key)
    }
    #expect(changed(second.parameterEntries) == ["text_model.encoder.layers.0.self_attn.q_proj.weight"])
    #expect(changed(model.textEncoder.parameterEntries) == ["text_model.encoder.layers.0.self_attn.q_proj.weight"])
    model.removeLoRAs()
    #expect(changed(second.parameterEntries).isEmpty)
  }
}

/// LoRA files written for one test in the temporary folder.
enum LoRAFile {
  static func write(
    _ tensors: [String: Tensor], metadata: [String: String] = [:], fileExtension: String = "safetensors"
  ) throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("lora-\(UUID().uuidString).\(fileExtension)")
    try SafetensorsFile.write(tensors, metadata: metadata, to: url)
    return url
  }
}
