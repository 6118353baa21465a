import Foundation
import Networks
import TensorCore
import Testing

/// The embedded configurations and the LDM key tables against the full-size layouts of the published SD 1.5,
/// SD 2.1 and SDXL base single files (`Fixtures/single-file/*-layout.json`, written by `Tests/Reference/make_checkpoint_layouts.py`
/// from diffusers' networks): a sparse file with that header and no data loads strictly, with every tensor used or
/// ignored by rule.
@Suite("Published single-file layouts")
struct PublishedLayoutTests {
  /// Writes a safetensors file with the layout's header whose data section is a hole (all zeros, no disk space).
  static func sparseCheckpoint(
    layout name: String, inputChannels: Int = 4, metadata: [String: String] = [:]
  ) throws -> URL {
    guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
      throw CocoaError(.fileNoSuchFile)
    }
    let data = try Data(contentsOf: fixtures.appendingPathComponent("single-file/\(name)-layout.json"))
    let layout = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [Any]])
    let sizes = ["F16": 2, "F32": 4, "I64": 8, "I32": 4]
    var header: [String: Any] = metadata.isEmpty ? [:] : ["__metadata__": metadata]
    var offset = 0
    for key in layout.keys.sorted() {
      let dtype = try #require(layout[key]?[0] as? String)
      var shape = try #require(layout[key]?[1] as? [Int])
      if key == "model.diffusion_model.input_blocks.0.0.weight" { shape[1] = inputChannels }
      let count = shape.reduce(1, *) * sizes[dtype]!
      header[key] = ["dtype": dtype, "shape": shape, "data_offsets": [offset, offset + count]]
      offset += count
    }
    var headerBytes = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    headerBytes.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8))
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "bld-\(name)-\(UUID().uuidString).safetensors")
    var length = UInt64(headerBytes.count).littleEndian
    var file = Data(bytes: &length, count: 8)
    file.append(headerBytes)
    try file.write(to: url)
    let handle = try FileHandle(forWritingTo: url)
    try handle.truncate(atOffset: UInt64(8 + headerBytes.count + offset))
    try handle.close()
    return url
  }

  @Test(
    "SD 1.5, SD 2.1 and their inpainting and 768-v variants load with the embedded configurations",
    arguments: [
      ("sd15", 4, [String: String](), CheckpointFamily.Generation.stableDiffusion1, PredictionType.epsilon, 64),
      ("sd15", 9, [:], .stableDiffusion1, .epsilon, 64),
      ("sd21", 4, [:], .stableDiffusion2, .epsilon, 64),
      ("sd21", 9, [:], .stableDiffusion2, .epsilon, 64),
      ("sd21", 4, ["modelspec.architecture": "stable-diffusion-v2-768-v"], .stableDiffusion2, .vPrediction, 96),
    ])
  func loads(
    layout: String, inputChannels: Int, metadata: [String: String], generation: CheckpointFamily.Generation,
    prediction: PredictionType, sampleSize: Int
  ) throws {
    let url = try Self.sparseCheckpoint(layout: layout, inputChannels: inputChannels, metadata: metadata)
    defer { try? FileManager.default.removeItem(at: url) }
    let model = try StableDiffusionModel(checkpoint: url)
    let family = try #require(model.checkpoint?.family)
    #expect(family.generation == generation && family.unetInputChannels == inputChannels)
    #expect(model.predictionType == prediction && model.unet.configuration.sampleSize == sampleSize)
    #expect(model.unet.configuration.inChannels == inputChannels)
    #expect(model.tokenizer.vocabularySize == 49_408)
    let reports = model.loadReports
    #expect(reports["unet"]?.tensorCount == 686)
    #expect(reports["vae"]?.tensorCount == 248)
    #expect(reports["text_encoder"]?.tensorCount == (generation == .stableDiffusion1 ? 196 : 372))
    let skipped = Set(reports.values.flatMap(\.skippedKeys))
    #expect(skipped.contains("alphas_cumprod") && skipped.contains("model_ema.num_updates"))
    if generation == .stableDiffusion2 {
      #expect(skipped.contains("cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight"))
      #expect(skipped.contains("cond_stage_model.model.logit_scale"))
    }
  }

  @Test("an SD 2.x file without metadata is probed: all-zero weights read as ε")
  func probedWithoutMetadata() throws {
    let url = try Self.sparseCheckpoint(layout: "sd21")
    defer { try? FileManager.default.removeItem(at: url) }
    let checkpoint = try SingleFileCheckpoint(contentsOf: url)
    #expect(try checkpoint.decidePredictionType() == (.epsilon, .probe))
  }

  @Test("SDXL base loads with the embedded configurations: both text encoders, label_emb, no EMA")
  func stableDiffusionXL() throws {
    let url = try Self.sparseCheckpoint(layout: "sdxl")
    defer { try? FileManager.default.removeItem(at: url) }
    let model = try StableDiffusionModel(checkpoint: url)
    #expect(model.checkpoint?.family.generation == .stableDiffusionXL)
    #expect(model.predictionType == .epsilon && model.unet.configuration.sampleSize == 128)
    #expect(model.secondTextEncoder != nil && model.secondTokenizer?.vocabularySize == 49_408)
    let header = try SafetensorsFile(contentsOf: url)
    let keys = header.tensorNames
    #expect(model.loadReports["unet"]?.tensorCount == keys.filter { $0.hasPrefix("model.diffusion_model.") }.count)
    #expect(model.loadReports["vae"]?.tensorCount == 248)
    #expect(model.loadReports["text_encoder_2"]?.tensorCount == 32 * 16 + 5)
    let skipped = Set(model.loadReports.values.flatMap(\.skippedKeys))
    #expect(
      skipped == [
        "conditioner.embedders.0.transformer.text_model.embeddings.position_ids",
        "conditioner.embedders.1.model.logit_scale",
      ])
  }
}
