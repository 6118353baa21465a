import BlendedLatentCommand
import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

@Suite("bld inspect through the ModelInspecting seam")
struct InspectCommandTests {
  struct FakeInspector: ModelInspecting {
    var fails = false
    func inspect(directory: URL) throws -> ModelInspection {
      if fails { throw FakeFailure() }
      return ModelInspection(
        directory: directory.path, family: "Stable Diffusion 2.x", predictionType: "v_prediction",
        nativeResolution: 768,
        components: [
          .init(
            name: "unet", className: "UNet2DConditionModel", parameterCount: 865_910_724,
            dtypes: ["F16": 686], files: ["unet/diffusion_pytorch_model.safetensors"]),
          .init(name: "tokenizer", className: "CLIPTokenizer"),
        ])
    }
  }

  @Test("text and JSON reports")
  func reports() throws {
    let folder = FileManager.default.temporaryDirectory.path
    let console = RecordingConsole()
    #expect(
      try InspectCommand.parse([folder]).execute(inspector: FakeInspector(), console: console) == 0)
    #expect(console.output.contains("Stable Diffusion 2.x, v_prediction prediction"))
    #expect(console.output.contains("unet       UNet2DConditionModel  865.9 M  F16×686"))
    #expect(console.output.contains("768×768"))
    let json = RecordingConsole()
    #expect(
      try InspectCommand.parse([folder, "--json"]).execute(
        inspector: FakeInspector(), console: json) == 0)
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
    #expect(
      object["native_resolution"] as? Int == 768
        && object["prediction_type"] as? String == "v_prediction")
  }

  @Test("errors are one line and exit 1")
  func failure() throws {
    let console = RecordingConsole()
    let status = try InspectCommand.parse([FileManager.default.temporaryDirectory.path]).execute(
      inspector: FakeInspector(fails: true), console: console)
    #expect(status == 1 && console.error == "bld: error: the fake editor failed on two lines\n")
  }
}

/// `bld inspect FILE` on single-file checkpoints: the family from the header, pickles refused in one line.
@Suite("bld inspect on single-file checkpoints")
struct CheckpointFileInspectionTests {
  @Test func reportsAnInpaintingCheckpoint() throws {
    let folder = try ScratchFolder()
    let path = folder.path("sd15-inpainting.safetensors")
    try SafetensorsFile.write(
      [
        "model.diffusion_model.input_blocks.0.0.weight": Tensor(shape: [320, 9, 3, 3]),
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": Tensor(shape: [320, 768]),
        "first_stage_model.post_quant_conv.bias": Tensor(shape: [4]),
      ], dtype: .float16, to: URL(fileURLWithPath: path))
    let console = RecordingConsole()
    #expect(
      try InspectCommand.parse([path]).execute(
        inspector: InspectCommandTests.FakeInspector(fails: true), console: console) == 0)
    #expect(console.output.contains("family: Stable Diffusion 1.x inpainting (cross-attention 768)"))
    #expect(console.output.contains("prediction type: epsilon (family default)"))
    let parameters: Int = 320 * 9 * 9 + 320 * 768 + 4
    #expect(console.output.contains("tensors: 3, parameters: \(parameters) (F16 \(parameters))"))
    let json = RecordingConsole()
    #expect(
      try InspectCommand.parse([path, "--json"]).execute(inspector: InspectCommandTests.FakeInspector(), console: json)
        == 0)
    let object = try #require(JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
    #expect(object["inpainting"] as? Bool == true && object["unet_input_channels"] as? Int == 9)
    #expect(object["family"] as? String == "Stable Diffusion 1.x" && object["prediction_type"] as? String == "epsilon")
  }

  @Test("the prediction type of an SD 2.x file is declared in its metadata or probed")
  func reportsThePredictionType() throws {
    let folder = try ScratchFolder()
    let tensors = [
      "model.diffusion_model.input_blocks.0.0.weight": Tensor(shape: [320, 4, 3, 3]),
      "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": Tensor(shape: [320, 1024]),
      "cond_stage_model.model.ln_final.weight": Tensor(shape: [1024]),
    ]
    let declared = folder.path("declared.safetensors")
    try SafetensorsFile.write(
      tensors, metadata: ["modelspec.prediction_type": "v"], to: URL(fileURLWithPath: declared))
    let console = RecordingConsole()
    #expect(
      try InspectCommand.parse([declared]).execute(inspector: InspectCommandTests.FakeInspector(), console: console)
        == 0)
    #expect(console.output.contains("prediction type: v_prediction (declared in the file's metadata)"))
    // Without metadata the probe needs the UNet, which this header-only file does not have.
    let bare = folder.path("bare.safetensors")
    try SafetensorsFile.write(tensors, to: URL(fileURLWithPath: bare))
    let probed = RecordingConsole()
    #expect(
      try InspectCommand.parse([bare]).execute(inspector: InspectCommandTests.FakeInspector(), console: probed) == 0)
    #expect(
      probed.output.contains("prediction type: unknown (")
        && probed.output.contains("no tensor for 'model.diffusion_model."))
  }

  @Test func refusesAPickle() throws {
    let folder = try ScratchFolder()
    let path = folder.path("model.ckpt")
    try Data("PK\u{3}\u{4}".utf8).write(to: URL(fileURLWithPath: path))
    let console = RecordingConsole()
    #expect(
      try InspectCommand.parse([path]).execute(inspector: InspectCommandTests.FakeInspector(), console: console) == 1)
    #expect(console.error.hasPrefix("bld: error: \(path) is a pickle checkpoint"))
    #expect(console.error.filter { $0 == "\n" }.count == 1)
  }
}

/// The real inspector on the tiny diffusers folders: family, prediction type, resolution and parameter
/// counts equal to what the loaded networks register.
@Suite("bld inspect on diffusers folders")
struct ModelDirectoryInspectionTests {
  @Test(arguments: [("sd1-tiny", "Stable Diffusion 1.x"), ("sd2-tiny", "Stable Diffusion 2.x")])
  func reportsTheFolder(name: String, family: String) throws {
    let folder = RepositoryFixtures.tinyModel(name)
    let report = try defaultModelInspector().inspect(directory: folder)
    #expect(report.family == family)
    #expect(report.predictionType == "epsilon")
    let model = try StableDiffusionModel(directory: ModelDirectory(root: folder))
    #expect(report.nativeResolution == (model.unet.configuration.sampleSize ?? 0) * model.vae.downsamplingFactor)
    let counts = Dictionary(uniqueKeysWithValues: report.components.map { ($0.name, $0.parameterCount) })
    #expect(counts["unet"] == model.unet.parameterCount)
    #expect(counts["vae"] == model.vae.parameterCount)
    #expect(counts["text_encoder"] == model.textEncoder.parameterCount)
    #expect(report.components.map(\.name).contains("tokenizer"))
  }

  @Test func aFolderWithoutModelIndexIsAnError() throws {
    #expect(throws: (any Error).self) {
      try defaultModelInspector().inspect(
        directory: RepositoryFixtures.tinyModel("sd1-tiny").appendingPathComponent("unet"))
    }
  }
}
