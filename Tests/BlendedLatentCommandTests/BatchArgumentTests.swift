import BlendedLatentCommand
import Foundation
import Testing
import _TestSupport

/// A `bld batch` manifest line means what `bld edit`'s options mean: parsed by `EditCommand` itself.
@Suite("bld batch: manifest lines through bld edit's parser")
struct BatchArgumentTests {
  let folder = "/manifests"
  let runArguments = ["--model=" + RepositoryFixtures.tinyModel("sd1-tiny").path, "--precision=fp32", "--quiet"]

  func job(_ line: String) throws -> BatchJob {
    try BatchJob(
      line: line, manifestFolder: folder, outputDirectory: "/out", runArguments: runArguments)
  }

  func lineError(_ line: String) -> String? {
    do {
      _ = try job(line)
      return nil
    } catch {
      return "\(error)"
    }
  }

  @Test("the keys and the run's options cover every option of bld edit --help")
  func keysCoverEveryEditOption() {
    let help = EditCommand.helpMessage(columns: 1000)
    let options = Set(
      help.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "[" || $0 == "]" })
        .filter { $0.hasPrefix("--") }
        .map { $0.dropFirst(2).prefix { $0.isLetter || $0.isNumber || $0 == "-" } }
        .map { $0.replacingOccurrences(of: "-", with: "_") })
    let covered = BatchJob.perEditKeys.union(BatchJob.wholeRunKeys).union([
      "output", "json", "quiet", "overwrite", "help",
    ])
    #expect(options.subtracting(covered).isEmpty, "options no batch key names: \(options.subtracting(covered))")
    #expect(BatchJob.perEditKeys.union(BatchJob.wholeRunKeys).subtracting(options).isEmpty)
  }

  @Test("a line gives the settings bld edit gives for the same options")
  func sameSettingsAsEdit() throws {
    let line = """
      {"image": "in.png", "mask": "alpha", "prompt": "a hat", "negative_prompt": "-blurry", "steps": 8,
       "guidance": -0.5, "strength": 0.5, "seed": 18446744073709551615, "batch": 2, "scheduler": "euler-a",
       "inpainting_blend": "off", "background": "paste", "feather": 3, "mask_shrink": 2, "mask_downsample": "max",
       "crop_to_mask": 16, "working_size": "original", "fine_tune": "fast", "fine_tune_iterations": 5,
       "fine_tune_memory_gb": 1.5, "output": "sub/a.png"}
      """.replacingOccurrences(of: "\n", with: " ")
    // Guidance −0.5 is invalid for bld edit too: check the message, then the valid line.
    #expect(lineError(line) == "guidance must be a finite number ≥ 0 (got -0.5)")
    let settings = try job(line.replacingOccurrences(of: "-0.5", with: "1.5")).settings
    let edit = try EditCommand.parse(
      [
        "--image", "/manifests/in.png", "--mask", "alpha", "--prompt", "a hat", "--negative-prompt=-blurry",
        "--steps", "8", "--guidance", "1.5", "--strength", "0.5", "--seed", "18446744073709551615", "--batch", "2",
        "--scheduler", "euler-a", "--inpainting-blend", "off", "--background", "paste", "--feather", "3",
        "--mask-shrink", "2", "--mask-downsample", "max", "--crop-to-mask", "16", "--working-size", "original",
        "--fine-tune", "fast", "--fine-tune-iterations", "5", "--fine-tune-memory-gb", "1.5",
        "--output", "/out/sub/a.png",
      ] + runArguments
    ).settings
    #expect(settings == edit)
    #expect(settings.seed == UInt64.max)
    #expect(settings.outputPaths == ["/out/sub/a-0.png", "/out/sub/a-1.png"])
  }

  @Test("bad keys, types and outputs are refused with a one-line reason naming the key")
  func refusals() {
    let base = #""image": "/in.png", "mask": "/m.png", "prompt": "p""#
    #expect(lineError(#"{\#(base), "output": "a.png", "colour": 1}"#)?.hasPrefix("unknown key 'colour'") == true)
    #expect(
      lineError(#"{\#(base), "output": "a.png", "threads": 2}"#)?.hasPrefix("'threads' applies to the whole run")
        == true)
    #expect(
      lineError(#"{\#(base), "output": "a.png", "seed": null}"#) == "'seed' must be a string or a number (got null)")
    #expect(lineError(#"{\#(base), "output": "a.png", "steps": [1]}"#)?.contains("an array or object") == true)
    #expect(lineError(#"{\#(base), "output": "a/../../b.png"}"#)?.hasPrefix("'output' must be a path inside") == true)
    #expect(lineError(#"{\#(base)}"#) == "'output' is missing")
    #expect(lineError(#"{\#(base), "output": 3}"#) == "'output' must be a string (got a number)")
    #expect(lineError(#"{"image": "/in.png", "mask": "/m.png", "output": "a.png"}"#)?.contains("'prompt'") == true)
    #expect(lineError(#"{\#(base), "output": "a.png", "feather": 2}"#) == "feather needs background paste")
    #expect(lineError(#"{\#(base), "output": "a.jpg"}"#)?.hasPrefix("output must be a .png file name") == true)
    #expect(lineError("not json")?.hasPrefix("not a JSON object") == true)
  }
}
