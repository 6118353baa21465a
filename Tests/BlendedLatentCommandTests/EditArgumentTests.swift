import ArgumentParser
import BlendedLatent
import BlendedLatentCommand
import Foundation
import Testing
import _TestSupport

@Suite("bld edit: argument names, defaults and validation")
struct EditArgumentTests {
  static let required = [
    "--image", "in.png", "--mask", "mask.png", "--prompt", "a red hat", "--output", "out.png",
  ]

  @Test("defaults follow Documentation/Method.md (50 steps, guidance 7.5, strength 0.75, batch 1, DDIM)")
  func defaults() throws {
    let settings = try EditCommand.parse(Self.required).settings
    #expect(settings.imagePath == "in.png" && settings.mask == .file("mask.png"))
    #expect(settings.prompt == "a red hat" && settings.outputPath == "out.png")
    #expect(settings.stepCount == 50 && settings.guidanceScale == 7.5 && settings.strength == 0.75)
    #expect(settings.stepsRun == 37)
    #expect(settings.batchSize == 1 && settings.seed == nil && settings.scheduler == .ddim)
    #expect(
      settings.background == .none && settings.maskShrinkLevels == 0
        && settings.maskDownsample == .nearest)
    #expect(
      settings.cropPadding == nil && settings.modelPath == nil
        && settings.negativePrompt.isEmpty)
    #expect(
      settings.featherRadius == 0 && settings.rankingModelDirectory == nil
        && settings.threadCount == nil)
    #expect(settings.workingSize == .native)
    #expect(!settings.json && !settings.quiet && !settings.overwrite)
    #expect(settings.outputPaths == ["out.png"])
  }

  @Test("every option of the issue parses under its exact name")
  func everyOption() throws {
    let folder = FileManager.default.temporaryDirectory.path
    let settings = try EditCommand.parse(
      Self.required + [
        "--model", folder, "--negative-prompt", "blurry", "--steps", "20", "--guidance", "5",
        "--strength", "1",
        "--seed", "18446744073709551615", "--batch", "3", "--scheduler", "euler-a", "--background",
        "paste",
        "--mask-shrink", "3", "--mask-downsample", "max", "--crop-to-mask", "32", "--rank-with",
        folder,
        "--threads", "2", "--json", "--quiet", "--overwrite", "--feather", "4", "--working-size",
        "original", "--precision", "bf16", "--prediction", "v",
      ]
    ).settings
    #expect(settings.modelPath == folder && settings.negativePrompt == "blurry")
    #expect(settings.predictionType == .vPrediction)
    #expect(
      settings.stepCount == 20 && settings.guidanceScale == 5 && settings.strength == 1
        && settings.stepsRun == 20)
    #expect(
      settings.seed == UInt64.max && settings.batchSize == 3
        && settings.scheduler == .eulerAncestral)
    #expect(
      settings.background == .paste && settings.maskShrinkLevels == 3
        && settings.maskDownsample == .max)
    #expect(
      settings.cropPadding == 32 && settings.rankingModelDirectory == folder
        && settings.threadCount == 2)
    #expect(settings.json && settings.quiet && settings.overwrite && settings.featherRadius == 4)
    #expect(settings.workingSize == .original && settings.precision == .bf16)
    #expect(settings.outputPaths == ["out-0.png", "out-1.png", "out-2.png"])
  }

  @Test(
    "enumerated values",
    arguments: [
      ("--scheduler", "ddim"), ("--scheduler", "dpm++2m"), ("--scheduler", "euler"),
      ("--scheduler", "euler-a"),
      ("--background", "none"), ("--background", "paste"), ("--background", "optimize"),
      ("--background", "poisson"),
      ("--mask-downsample", "nearest"), ("--mask-downsample", "max"), ("--precision", "fp32"),
      ("--precision", "bf16"),
    ])
  func enumeratedValues(option: String, value: String) throws {
    _ = try EditCommand.parse(Self.required + [option, value])
  }

  @Test(
    "without --scheduler the model's own runs when bld has it (SDXL: Euler), else DDIM",
    arguments: [("sdxl-tiny", SchedulerChoice.euler), ("sd1-tiny", .ddim), ("sd2-tiny", .ddim)])
  func modelScheduler(model: String, expected: SchedulerChoice) throws {
    let folder = RepositoryFixtures.tinyModel(model).path
    #expect(try EditCommand.parse(Self.required + ["--model", folder]).settings.scheduler == expected)
    #expect(
      try EditCommand.parse(Self.required + ["--model", folder, "--scheduler", "dpm++2m"]).settings.scheduler
        == .dpmSolverMultistep)
  }

  @Test("the fine-tune options parse, the memory budget in bytes")
  func fineTuneOptions() throws {
    let settings = try EditCommand.parse(
      Self.required + [
        "--background", "optimize", "--fine-tune", "fast", "--fine-tune-iterations", "10",
        "--fine-tune-memory-gb", "2.5",
      ]
    ).settings
    #expect(settings.fineTunePreset == .fast && settings.fineTuneIterations == 10)
    #expect(settings.fineTuneActivationBytes == 2_500_000_000)
    // An explicit budget wins over any memory limit.
    let limited = MemoryPreflight.Headroom(bytes: 1_000_000_000, limit: "a test limit")
    #expect(settings.fineTuneOptions(headroom: limited).activationMemoryBudget == 2_500_000_000)
    #expect(settings.fineTuneOptions(headroom: limited).iterationCount == 10)
  }

  @Test("without --fine-tune-memory-gb the budget is the default, or half the memory left under a limit")
  func fineTuneBudgetFollowsTheMemoryLimit() throws {
    let settings = try EditCommand.parse(Self.required + ["--background", "optimize"]).settings
    let defaultBudget = DecoderFineTuningOptions.defaultActivationMemoryBudget
    #expect(settings.fineTuneOptions(headroom: nil).activationMemoryBudget == defaultBudget)
    let tight = MemoryPreflight.Headroom(bytes: 4_000_000_000, limit: "a test limit")
    #expect(settings.fineTuneOptions(headroom: tight).activationMemoryBudget == 2_000_000_000)
    let roomy = MemoryPreflight.Headroom(bytes: 64_000_000_000, limit: "a test limit")
    #expect(settings.fineTuneOptions(headroom: roomy).activationMemoryBudget == defaultBudget)
    let exhausted = MemoryPreflight.Headroom(bytes: -5, limit: "a test limit")
    #expect(settings.fineTuneOptions(headroom: exhausted).activationMemoryBudget == 0)
  }

  @Test("--mask alpha selects the alpha channel")
  func alphaMask() throws {
    var arguments = Self.required
    arguments[3] = "alpha"
    #expect(try EditCommand.parse(arguments).settings.mask == .alpha)
  }

  @Test("batch outputs are OUT-i.png beside OUT.png")
  func batchNames() throws {
    let settings = try EditCommand.parse(
      [
        "--image", "a.jpg", "--mask", "m.png", "--prompt", "x", "--output", "results/cat.v2.png",
        "--batch", "2",
      ]
    ).settings
    #expect(settings.outputPaths == ["results/cat.v2-0.png", "results/cat.v2-1.png"])
  }

  static let invalid: [([String], String)] = [
    (["--steps", "0"], "--steps"), (["--steps", "1001"], "--steps"),
    (["--guidance", "-1"], "--guidance"),
    (["--guidance", "nan"], "--guidance"), (["--strength", "0"], "--strength"),
    (["--strength", "1.5"], "--strength"),
    (["--strength", "0.01"], "no denoising step"), (["--batch", "0"], "--batch"),
    (["--batch", "65"], "--batch"),
    (["--mask-shrink", "-1"], "--mask-shrink"), (["--crop-to-mask", "-5"], "--crop-to-mask"),
    (["--feather", "3"], "--background paste"),
    (["--feather", "-1", "--background", "paste"], "--feather"),
    (["--fine-tune-memory-gb", "-1"], "--fine-tune-memory-gb"),
    (["--threads", "0"], "--threads"), (["--precision", "fp16"], "--precision"),
    (["--scheduler", "plms"], "--scheduler"),
    (["--background", "blur"], "--background"),
    (["--mask-downsample", "avg"], "--mask-downsample"),
    (["--working-size", "huge"], "--working-size"), (["--seed", "-3"], "--seed"),
    (["--steps", "ten"], "--steps"),
    (["--model", "/definitely/not/here"], "--model"),
    (["--rank-with", "/definitely/not/here"], "--rank-with"),
    (["--config", "/tmp"], "--config is only for a single-file --model"),
    (["--model", "/tmp", "--config", "/tmp"], "--config is only for a single-file --model"),
    (["--prediction", "x0"], "--prediction"),
    (["--output", "out.jpg"], "--output"), (["--prompt", "  "], "--prompt"),
  ]

  @Test("bad values are refused with a message naming the option", arguments: invalid)
  func invalidValues(extra: [String], expected: String) {
    do {
      _ = try EditCommand.parse(Self.required + extra)
      Issue.record("accepted \(extra)")
    } catch {
      let message = EditCommand.message(for: error)
      #expect(message.contains(expected), "\(message)")
      #expect(EditCommand.exitCode(for: error) != .success)
    }
  }

  @Test("missing required options are refused")
  func missingRequired() {
    for index in stride(from: 0, to: Self.required.count, by: 2) {
      var arguments = Self.required
      arguments.removeSubrange(index...index + 1)
      #expect(throws: (any Error).self) { try EditCommand.parse(arguments) }
    }
  }

  @Test("bld has edit and inspect subcommands")
  func subcommands() throws {
    #expect(try BLDCommand.parseAsRoot(["edit"] + Self.required) is EditCommand)
    let inspect = try BLDCommand.parseAsRoot([
      "inspect", FileManager.default.temporaryDirectory.path,
    ])
    #expect(inspect is InspectCommand)
    #expect(throws: (any Error).self) {
      try BLDCommand.parseAsRoot(["inspect", "/definitely/not/here"])
    }
  }
}
