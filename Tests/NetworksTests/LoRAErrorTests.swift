import Foundation
import Networks
import TensorCore
import Testing

/// Malformed LoRA files, and LoRAs that do not fit the model, are refused with a `LoRAError` naming the file and
/// the offending keys; a refused LoRA leaves the model unchanged.
@Suite("LoRA errors name the file and the keys")
struct LoRAErrorTests {
  static let query = "down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"

  static func error(reading tensors: [String: Tensor]) throws -> LoRAError? {
    let url = try LoRAFile.write(tensors)
    defer { try? FileManager.default.removeItem(at: url) }
    do {
      _ = try LoRA(contentsOf: url)
      return nil
    } catch { return error }
  }

  static func error(applying tensors: [String: Tensor], to modelName: String = "sd1-tiny") throws -> LoRAError? {
    let url = try LoRAFile.write(tensors)
    defer { try? FileManager.default.removeItem(at: url) }
    let model = try LoRATests.model(modelName)
    do {
      try model.apply(try LoRA(contentsOf: url))
      return nil
    } catch {
      #expect(
        (model.unet.parameterEntries + model.textEncoder.parameterEntries).allSatisfy {
          $0.stored().lowRankUpdates.isEmpty
        }, "a refused LoRA changes nothing")
      return error
    }
  }

  @Test func unknownModulesAreListed() throws {
    var tensors: [String: Tensor] = [:]
    for index in 0..<7 {
      tensors["lora_unet_no_such_layer_\(index).lora_down.weight"] = Tensor(shape: [2, 32])
      tensors["lora_unet_no_such_layer_\(index).lora_up.weight"] = Tensor(shape: [32, 2])
    }
    let error = try #require(try Self.error(applying: tensors))
    guard case .unknownModules(_, let component, let modules) = error else {
      Issue.record("got \(error)")
      return
    }
    #expect(component == .unet && modules.count == 7)
    #expect(error.description.contains("lora_unet_no_such_layer_0") && error.description.contains("and 2 more"))
    #expect(error.description.contains("7 modules") && !error.description.contains("\n"))
  }

  @Test func mismatchedShapesAreListed() throws {
    let error = try #require(
      try Self.error(applying: [
        "lora_unet_\(Self.query).lora_down.weight": Tensor(shape: [2, 31]),
        "lora_unet_\(Self.query).lora_up.weight": Tensor(shape: [32, 2]),
      ]))
    guard case .shapeMismatch(_, .unet, let modules) = error else {
      Issue.record("got \(error)")
      return
    }
    #expect(modules == ["lora_unet_\(Self.query) (down [2, 31], up [32, 2] for weight [32, 32])"])
  }

  @Test func aLoRAForAnotherFamilyIsRefused() throws {
    // sd2-kohya was made for sd2-tiny: its text-encoder factors are 24 wide where sd1-tiny's layers are 32, and
    // its UNet modules name blocks sd1-tiny lacks.
    let url = try LoRATests.folder.appendingPathComponent("sd2-kohya.safetensors")
    let file = try SafetensorsFile(contentsOf: url)
    let textEncoderOnly = try Dictionary(
      uniqueKeysWithValues: file.tensorNames.filter { $0.hasPrefix("lora_te_") }.map {
        ($0, try file.tensor(named: $0))
      })
    let error = try #require(try Self.error(applying: textEncoderOnly))
    guard case .shapeMismatch(_, .textEncoder, let modules) = error else {
      Issue.record("got \(error)")
      return
    }
    #expect(modules.count == 12 && modules[0].contains("for weight [64, 32]"))

    let model = try LoRATests.model("sd1-tiny")
    #expect {
      try model.apply(try LoRA(contentsOf: url))
    } throws: { error in
      guard case .unknownModules(let file, .unet, _) = error as? LoRAError else { return false }
      return file == url.path
    }
  }

  @Test func rankMismatchIsMalformed() throws {
    let error = try #require(
      try Self.error(reading: [
        "unet.a.lora_A.weight": Tensor(shape: [2, 32]),
        "unet.a.lora_B.weight": Tensor(shape: [32, 3]),
      ]))
    guard case .malformedModules(_, let modules) = error else {
      Issue.record("got \(error)")
      return
    }
    #expect(modules == ["unet.a (down [2, 32], up [32, 3])"])
  }

  @Test func missingHalvesAreListed() throws {
    let error = try #require(
      try Self.error(reading: [
        "lora_unet_a.lora_down.weight": Tensor(shape: [2, 32]),
        "lora_te_b.lora_up.weight": Tensor(shape: [32, 2]),
        "lora_te_b.alpha": Tensor(1),
      ]))
    #expect(error == .missingHalves(file: error.fileForTests, modules: ["lora_te_b", "lora_unet_a"]))
  }

  @Test func unrecognizedKeysAreListed() throws {
    let error = try #require(
      try Self.error(reading: [
        "lora_unet_a.hada_w1_a": Tensor(shape: [2, 2]),
        "something.else": Tensor(shape: [1]),
      ]))
    #expect(error == .unrecognizedKeys(file: error.fileForTests, keys: ["lora_unet_a.hada_w1_a", "something.else"]))
  }

  @Test func aSecondTextEncoderIsMissingFromSD1() throws {
    let error = try #require(
      try Self.error(applying: [
        "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": Tensor(shape: [2, 32]),
        "lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight": Tensor(shape: [32, 2]),
      ]))
    #expect(
      error
        == .missingComponent(
          file: error.fileForTests, component: .textEncoder2,
          modules: ["lora_te2_text_model_encoder_layers_0_self_attn_q_proj"]))
  }

  @Test(arguments: ["ckpt", "pt", "bin"])
  func pickleFilesAreNeverOpened(fileExtension: String) throws {
    let url = try LoRAFile.write(["a": Tensor(shape: [1])], fileExtension: fileExtension)
    defer { try? FileManager.default.removeItem(at: url) }
    #expect(throws: LoRAError.pickleFile(file: url.path)) { try LoRA(contentsOf: url) }
  }

  @Test func pickleBytesAreRefusedWhateverTheName() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lora-\(UUID().uuidString).safetensors")
    try Data([0x80, 0x02, 0x7D, 0x71, 0x00, 0x28, 0x58, 0x01, 0x00]).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    #expect(throws: LoRAError.pickleFile(file: url.path)) { try LoRA(contentsOf: url) }
  }

  @Test func otherFilesAreUnreadable() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lora-\(UUID().uuidString).safetensors")
    try Data("not a safetensors file".utf8).write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    #expect {
      try LoRA(contentsOf: url)
    } throws: { error in
      guard case .unreadable(let file, _) = error as? LoRAError else { return false }
      return file == url.path
    }
  }

  @Test func anEmptyFileIsRefused() throws {
    let error = try #require(try Self.error(reading: [:]))
    #expect(error == .empty(file: error.fileForTests))
  }
}

extension LoRAError {
  /// The file every case names.
  var fileForTests: String {
    switch self {
    case .pickleFile(let file), .unreadable(let file, _), .empty(let file), .unrecognizedKeys(let file, _),
      .missingHalves(let file, _), .malformedModules(let file, _), .unknownModules(let file, _, _),
      .ambiguousModules(let file, _, _), .shapeMismatch(let file, _, _), .missingComponent(let file, _, _):
      file
    }
  }
}
