import BlendedLatentCommand
import Foundation
import Testing

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
