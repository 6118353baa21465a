import BlendedLatent
import BlendedLatentCommand
import Foundation
import Testing
import _TestSupport

/// `bld edit --lora FILE[:SCALE]`: parsing, validation, and edits through the real backend on the tiny SD 1.x
/// folder with the LoRA fixtures of `Tests/NetworksTests/Fixtures/lora`.
@Suite("bld edit --lora")
struct LoRAOptionTests {
  static func lora(_ name: String) -> String {
    RepositoryFixtures.url(target: "NetworksTests", "lora/\(name).safetensors").path
  }

  @Test func argumentsParseWithAndWithoutScale() throws {
    let (kohya, peft) = (Self.lora("sd1-kohya"), Self.lora("sd1-peft"))
    let settings = try EditCommand.parse(
      EditArgumentTests.required + ["--lora", kohya, "--lora", "\(peft):-0.5", "--lora", "\(kohya):1e-1"]
    ).settings
    #expect(
      settings.loras == [
        LoRASetting(path: kohya), LoRASetting(path: peft, scale: -0.5), LoRASetting(path: kohya, scale: 0.1),
      ])
    #expect(try EditCommand.parse(EditArgumentTests.required).settings.loras.isEmpty)
  }

  @Test func aColonInAnExistingFileNameIsPartOfTheName() {
    #expect(
      LoRASetting(argument: "a:b.safetensors", fileExists: { $0 == "a:b.safetensors" })
        == LoRASetting(path: "a:b.safetensors"))
    #expect(
      LoRASetting(argument: "a:b.safetensors:2", fileExists: { _ in false })
        == LoRASetting(path: "a:b.safetensors", scale: 2))
    #expect(LoRASetting(argument: "x.safetensors:abc", fileExists: { _ in false }) == nil)
    #expect(LoRASetting(argument: "x.safetensors:", fileExists: { _ in false }) == nil)
    #expect(LoRASetting(argument: "x.safetensors:inf", fileExists: { _ in false }) == nil)
  }

  @Test(
    "bad --lora values are refused naming the option",
    arguments: [
      (["--lora", "/definitely/not/here.safetensors"], "is not a file"),
      (["--lora", "/definitely/not/here.safetensors:0.5"], "is not a file"),
      (["--lora", "x.safetensors:abc"], "must be a number"),
      (["--lora", "/tmp"], "is not a file"),
    ])
  func invalidValues(extra: [String], expected: String) {
    do {
      _ = try EditCommand.parse(EditArgumentTests.required + extra)
      Issue.record("accepted \(extra)")
    } catch {
      let message = EditCommand.message(for: error)
      #expect(message.contains("--lora") && message.contains(expected), "\(message)")
      #expect(EditCommand.exitCode(for: error) != .success)
    }
  }

  /// Runs a 2-step seeded edit of a 16×16 image on sd1-tiny with `extra` options; returns the status, the error
  /// output and the result's pixels (nil when nothing was written).
  static func edit(_ extra: [String]) throws -> (status: Int32, error: String, pixels: [Float]?) {
    let folder = try ScratchFolder()
    let image = try folder.writeImage("in.png", width: 16, height: 16)
    let mask = try folder.writeMask(
      "mask.png", width: 16, height: 16, selecting: PixelRegion(x: 4, y: 4, width: 8, height: 8))
    let output = folder.path("out.png")
    let run = try runEdit(
      [
        "--image", image, "--mask", mask, "--prompt", "a hat", "--output", output,
        "--model", RepositoryFixtures.tinyModel("sd1-tiny").path, "--steps", "2", "--strength", "1",
        "--seed", "7", "--quiet",
      ] + extra, backend: defaultEditBackend())
    let pixels =
      FileManager.default.fileExists(atPath: output)
      ? try RGBImage(contentsOf: URL(fileURLWithPath: output)).tensor().scalars : nil
    return (run.status, run.console.error, pixels)
  }

  @Test func editsWithLoRAsThroughTheRealBackend() throws {
    let base = try Self.edit([])
    let adapted = try Self.edit(["--lora", Self.lora("sd1-kohya") + ":0.8", "--lora", Self.lora("sd1-peft")])
    #expect(base.status == 0 && adapted.status == 0, "\(base.error) \(adapted.error)")
    #expect(adapted.pixels != nil && adapted.pixels != base.pixels, "the LoRAs change the edit")
    let zero = try Self.edit(["--lora", Self.lora("sd1-kohya") + ":0"])
    #expect(zero.status == 0 && zero.pixels == base.pixels, "scale 0 leaves the model as it is")
  }

  @Test func aLoRAThatDoesNotFitExitsOneWithOneLine() throws {
    let run = try Self.edit(["--lora", Self.lora("sd2-kohya")])
    #expect(run.status == 1 && run.pixels == nil)
    let lines = run.error.split(separator: "\n")
    #expect(lines.count == 1 && lines[0].hasPrefix("bld: error: ") && lines[0].contains("sd2-kohya.safetensors"))
  }

  @Test func aPickleLoRAExitsOneWithOneLine() throws {
    let folder = try ScratchFolder()
    let pickle = folder.path("lora.ckpt")
    try Data([0x80, 0x02]).write(to: URL(fileURLWithPath: pickle))
    let run = try Self.edit(["--lora", pickle])
    #expect(run.status == 1 && run.error.contains("pickle") && run.error.split(separator: "\n").count == 1)
  }
}
