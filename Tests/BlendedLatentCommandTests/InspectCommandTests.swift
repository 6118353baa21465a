import BlendedLatentCommand
import Foundation
import Networks
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
