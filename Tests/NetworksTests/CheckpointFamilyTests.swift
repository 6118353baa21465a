import Foundation
import Networks
import TensorCore
import Testing

/// Family detection of single-file (LDM layout) checkpoints from their keys and shapes, and refusal of pickles.
@Suite("Single-file checkpoint families")
struct CheckpointFamilyTests {
  static let input = "model.diffusion_model.input_blocks.0.0.weight"
  static let sdAttention = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
  static let xlAttention = "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight"

  @Test(
    "SD 1.x, SD 2.x, SDXL and their inpainting UNets are told apart by keys and shapes",
    arguments: [
      (768, 4, false, CheckpointFamily.Generation.stableDiffusion1),
      (768, 9, false, .stableDiffusion1),
      (1024, 4, false, .stableDiffusion2),
      (1024, 9, false, .stableDiffusion2),
      (2048, 4, true, .stableDiffusionXL),
      (2048, 9, true, .stableDiffusionXL),
    ])
  func detects(width: Int, channels: Int, xl: Bool, generation: CheckpointFamily.Generation) throws {
    var shapes = [Self.input: [320, channels, 3, 3], (xl ? Self.xlAttention : Self.sdAttention): [640, width]]
    shapes["first_stage_model.decoder.conv_out.weight"] = [3, 128, 3, 3]
    if xl { shapes["conditioner.embedders.1.model.text_projection"] = [1280, 1280] }
    let family = try CheckpointFamily.detect(shapes: shapes, file: "model.safetensors")
    #expect(family.generation == generation && family.crossAttentionWidth == width)
    #expect(family.isInpainting == (channels == 9))
    #expect(family.description.contains(channels == 9 ? "inpainting" : generation.rawValue))
  }

  @Test("anything else is an error naming the keys that decided it")
  func unknownLayouts() {
    let cases: [([String: [Int]], String)] = [
      (["unet.conv_in.weight": [320, 4, 3, 3]], "no UNet"),
      ([Self.input: [320, 7, 3, 3], Self.sdAttention: [320, 768]], "7"),
      ([Self.input: [320, 4, 3, 3]], "no cross-attention"),
      ([Self.input: [320, 4, 3, 3], Self.sdAttention: [320, 512]], "512"),
    ]
    for (shapes, fragment) in cases {
      #expect {
        try CheckpointFamily.detect(shapes: shapes, file: "m.safetensors")
      } throws: { error in
        guard case .unknownLayout(let file, let reason, let keys) = error as? SingleFileCheckpointError else {
          return false
        }
        let line = (error as! SingleFileCheckpointError).localizedDescription
        return file == "m.safetensors" && "\(reason) \(keys)".contains(fragment) && !keys.isEmpty
          && !line.contains("\n")
      }
    }
  }

  @Test("a real safetensors header is read without its weights; pickles are refused before anything is read")
  func files() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bld-family-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let checkpoint = folder.appendingPathComponent("v2-inpainting.safetensors")
    try SafetensorsFile.write(
      [Self.input: Tensor(shape: [320, 9, 3, 3]), Self.sdAttention: Tensor(shape: [320, 1024])], dtype: .float16,
      to: checkpoint)
    let family = try CheckpointFamily(contentsOf: checkpoint)
    #expect(family == CheckpointFamily(generation: .stableDiffusion2, unetInputChannels: 9, crossAttentionWidth: 1024))

    for (name, bytes) in [("model.ckpt", Data("PK\u{3}\u{4}".utf8)), ("renamed.safetensors", Data([0x80, 2, 0x7D]))] {
      let url = folder.appendingPathComponent(name)
      try bytes.write(to: url)
      #expect {
        try CheckpointFamily(contentsOf: url)
      } throws: { error in
        guard case .pickleFile(let file) = error as? SingleFileCheckpointError else { return false }
        return file == url.path && (error as! SingleFileCheckpointError).description.contains("safetensors")
      }
    }
    let garbage = folder.appendingPathComponent("garbage.safetensors")
    try Data(repeating: 7, count: 16).write(to: garbage)
    #expect {
      try CheckpointFamily(contentsOf: garbage)
    } throws: { error in
      if case .unreadable(let file, _) = error as? SingleFileCheckpointError { file == garbage.path } else { false }
    }
  }
}
