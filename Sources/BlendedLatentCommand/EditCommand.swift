import ArgumentParser
import BlendedLatent
import Foundation
import Networks

extension SchedulerChoice: ExpressibleByArgument {}
extension BackgroundChoice: ExpressibleByArgument {}
extension MaskDownsampleChoice: ExpressibleByArgument {}
extension WorkingSizeChoice: ExpressibleByArgument {}
extension FineTunePreset: ExpressibleByArgument {}
extension PrecisionChoice: ExpressibleByArgument {}
extension Switch: ExpressibleByArgument {}

/// `bld edit`: edits the masked part of an image so that it matches a prompt (Blended Latent Diffusion).
package struct EditCommand: ParsableCommand {
  /// The subcommand's name, summary and discussion.
  package static let configuration = CommandConfiguration(
    commandName: "edit",
    abstract: "Edit the masked part of an image so that it matches a text prompt.",
    discussion: """
      The mask is white where the image should change (or use '--mask alpha': transparent = change). \
      Without --model, a small built-in demonstration model with random weights runs: it shows the \
      mechanics, not real edits. Point --model at a Stable Diffusion 1.5 or 2.1(-base) folder in \
      diffusers layout for real edits. Images that are not the model's native size are resized to it \
      (longer side = native resolution) and back; --crop-to-mask edits only the mask's neighbourhood of a \
      large photo. The output always has the input's size.
      """)

  /// `--image`.
  @Option(help: ArgumentHelp("Input image (PNG or JPEG).", valueName: "IN"))
  package var image: String

  /// `--mask`.
  @Option(
    help: ArgumentHelp(
      "Mask image of the same size, white = edit; or 'alpha' to use the image's transparency (transparent = edit).",
      valueName: "MASK"))
  package var mask: String

  /// `--prompt`.
  @Option(help: ArgumentHelp("What the masked area should show.", valueName: "TEXT"))
  package var prompt: String

  /// `--output`.
  @Option(
    help: ArgumentHelp(
      "Output PNG (with --batch N: OUT-0.png … OUT-(N-1).png).", valueName: "OUT.png"))
  package var output: String

  /// `--model`.
  @Option(
    help: ArgumentHelp(
      "Stable Diffusion 1.x/2.x folder in diffusers layout, or single-file checkpoint (.safetensors, LDM / "
        + "AUTOMATIC1111 layout) (default: built-in demonstration model).",
      valueName: "DIR|FILE"))
  package var model: String?

  /// `--lora` (repeatable).
  @Option(
    help: ArgumentHelp(
      "A LoRA safetensors file (kohya or diffusers/PEFT) applied to the model at SCALE (default 1); repeatable.",
      valueName: "FILE[:SCALE]"))
  package var lora: [String] = []

  /// `--config`.
  @Option(
    help: ArgumentHelp(
      "With a single-file --model: a diffusers folder whose configurations and tokenizer to use instead of the "
        + "embedded ones of the checkpoint's family (its weights are not read).",
      valueName: "DIR"))
  package var config: String?

  /// `--prediction`.
  @Option(
    help: ArgumentHelp(
      "The UNet's prediction type, overriding the model's (default: the folder's scheduler; for single files "
        + "the file's metadata, else a one-step probe for SD 2.x).",
      valueName: "epsilon|v"))
  package var prediction: String?

  /// `--negative-prompt`.
  @Option(help: ArgumentHelp("What to steer away from (default: empty).", valueName: "TEXT"))
  package var negativePrompt: String = ""

  /// `--steps`.
  @Option(help: ArgumentHelp("Denoising steps of the full schedule (1–1000).", valueName: "N"))
  package var steps: Int = 50

  /// `--guidance`.
  @Option(help: ArgumentHelp("Classifier-free guidance scale (≥ 0).", valueName: "G"))
  package var guidance: Double = 7.5

  /// `--strength`.
  @Option(
    help: ArgumentHelp(
      "Fraction of the schedule run, in (0, 1]: the last Int(steps × strength) steps.",
      valueName: "S"))
  package var strength: Double = 0.75

  /// `--seed` (read even when it starts with `-`, so `--seed -1` gets a message about the seed, not a missing value).
  @Option(
    parsing: .unconditional,
    help: ArgumentHelp(
      "Random seed (PyTorch-compatible noise); random and printed when omitted.", valueName: "N"),
    transform: EditCommand.seed(from:))
  package var seed: UInt64?

  /// `--batch`.
  @Option(help: ArgumentHelp("Number of results (1–64).", valueName: "N"))
  package var batch: Int = 1

  /// `--scheduler`.
  @Option(
    help: ArgumentHelp(
      "Denoising scheduler (lcm: LCM / LCM-LoRA models, 2–8 steps, --guidance 1) (default: the model's own when "
        + "it is one of these — Euler for SDXL — else ddim).",
      valueName: "ddim|dpm++2m|euler|euler-a|lcm"))
  package var scheduler: SchedulerChoice?

  /// `--inpainting-blend`.
  @Option(
    help: ArgumentHelp(
      "With an inpainting UNet (in_channels 9): blend with the source after every step, mask dilated by one latent cell (on, the default), or not (off: diffusers' inpainting pipeline).",
      valueName: "on|off"))
  package var inpaintingBlend: Switch = .on

  /// `--background`.
  @Option(
    help: ArgumentHelp(
      "Background reconstruction: none, paste (outside pixels identical), optimize (decoder fine-tuning), poisson.",
      valueName: "none|paste|optimize|poisson"))
  package var background: BackgroundChoice = .none

  /// `--mask-shrink`.
  @Option(
    help: ArgumentHelp(
      "Progressive mask shrinking levels for thin masks (0 = off, paper: 3).", valueName: "K"))
  package var maskShrink: Int = 0

  /// `--mask-downsample`.
  @Option(
    help: ArgumentHelp(
      "Mask to latent resolution: nearest, or max (keeps thin strokes).", valueName: "nearest|max"))
  package var maskDownsample: MaskDownsampleChoice = .nearest

  /// `--crop-to-mask`.
  @Option(
    help: ArgumentHelp(
      "Edit only the mask's bounding box plus PIXELS of context (at the model's native resolution) and paste it back.",
      valueName: "PIXELS"))
  package var cropToMask: Int?

  /// `--working-size`.
  @Option(
    help: ArgumentHelp(
      "native: resize so the longer side is the model's native resolution (and back); original: keep the image's (or crop's) size.",
      valueName: "native|original"))
  package var workingSize: WorkingSizeChoice = .native

  /// `--feather`.
  @Option(
    help: ArgumentHelp(
      "With --background paste: blend N pixels inward from the mask edge.", valueName: "N"))
  package var feather: Int = 0

  /// `--fine-tune`.
  @Option(
    help: ArgumentHelp(
      "With --background optimize: paper (all decoder weights, whole image) or fast (last block, crop around the mask).",
      valueName: "paper|fast"))
  package var fineTune: FineTunePreset = .paper

  /// `--fine-tune-iterations`.
  @Option(
    help: ArgumentHelp("With --background optimize: Adam iterations (default 75).", valueName: "N"))
  package var fineTuneIterations: Int?

  /// `--fine-tune-memory-gb`.
  @Option(
    help: ArgumentHelp(
      "With --background optimize: GB of forward activations a training step may keep (default 6); blocks beyond it are recomputed.",
      valueName: "GB"))
  package var fineTuneMemoryGB: Double?

  /// `--rank-with`.
  @Option(
    help: ArgumentHelp(
      "CLIP model folder (transformers CLIPModel layout) to rank the batch.", valueName: "CLIP_DIR")
  )
  package var rankWith: String?

  /// `--threads`.
  @Option(
    help: ArgumentHelp(
      "Compute threads (default: the CPUs this process may use — affinity and cgroup quota — or OMP_NUM_THREADS).",
      valueName: "N"))
  package var threads: Int?

  /// `--precision`.
  @Option(
    help: ArgumentHelp(
      "Matrix-product arithmetic: fp32, or bf16 inputs with fp32 accumulation (faster, AVX512_BF16 CPUs).",
      valueName: "fp32|bf16"))
  package var precision: PrecisionChoice = .fp32

  /// `--json`.
  @Flag(help: "Print a JSON summary (seed, timings, outputs, scores) on standard output.")
  package var json = false

  /// `--quiet`.
  @Flag(help: "No progress bar and no notes on standard error.")
  package var quiet = false

  /// `--overwrite`.
  @Flag(help: "Replace existing output files (never the input image or mask).")
  package var overwrite = false

  /// Creates the command with ArgumentParser's defaults (used by the parser).
  package init() {}

  /// Checks option values; each failure is one line naming the option.
  package func validate() throws {
    func fail(_ message: String) -> ValidationError { ValidationError(message) }
    if prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
      throw fail("--prompt must not be empty")
    }
    if !output.lowercased().hasSuffix(".png")
      || URL(fileURLWithPath: output).lastPathComponent.count <= 4
    {
      throw fail("--output must be a .png file name (got '\(output)')")
    }
    guard (1...1000).contains(steps) else {
      throw fail("--steps must be between 1 and 1000 (got \(steps))")
    }
    guard guidance.isFinite && guidance >= 0 && Float(guidance).isFinite else {
      throw fail("--guidance must be a finite number ≥ 0 (got \(guidance))")
    }
    guard strength.isFinite && strength > 0 && strength <= 1 else {
      throw fail("--strength must be in (0, 1] (got \(strength))")
    }
    if resolvedScheduler != .lcm && Int(Double(steps) * strength) < 1 {
      throw fail(
        "--strength \(strength) with --steps \(steps) runs no denoising step (Int(steps × strength) = 0)"
      )
    }
    guard (1...EditRequest.maximumBatchSize).contains(batch) else {
      throw fail("--batch must be between 1 and \(EditRequest.maximumBatchSize) (got \(batch))")
    }
    guard (0...16).contains(maskShrink) else {
      throw fail("--mask-shrink must be between 0 and 16 (got \(maskShrink))")
    }
    if let cropToMask, cropToMask < 0 {
      throw fail("--crop-to-mask must be ≥ 0 pixels (got \(cropToMask))")
    }
    guard feather >= 0 else { throw fail("--feather must be ≥ 0 (got \(feather))") }
    if feather > 0 && background != .paste { throw fail("--feather needs --background paste") }
    if let iterations = fineTuneIterations, !(1...10_000).contains(iterations) {
      throw fail("--fine-tune-iterations must be in 1…10000 (got \(iterations))")
    }
    if let gigabytes = fineTuneMemoryGB, !(0...1_000).contains(gigabytes) {
      throw fail("--fine-tune-memory-gb must be in 0…1000 (got \(gigabytes))")
    }
    if let threads, threads < 1 { throw fail("--threads must be ≥ 1 (got \(threads))") }
    for argument in lora {
      guard let setting = LoRASetting(argument: argument) else {
        throw fail("--lora '\(argument)': the scale after the last ':' must be a number (FILE[:SCALE])")
      }
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: setting.path, isDirectory: &isDirectory), !isDirectory.boolValue
      else {
        throw fail("--lora '\(setting.path)' is not a file")
      }
    }
    if let model {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory) else {
        var status = stat()
        if lstat(model, &status) == 0 && (status.st_mode & S_IFMT) == S_IFLNK {
          throw fail("--model '\(model)' is a symbolic link that leads nowhere (missing target or a loop)")
        }
        throw fail("--model '\(model)' is neither a folder nor a file")
      }
      if isDirectory.boolValue, let parent = Self.modelFolder(containing: model) {
        throw fail(
          "--model '\(model)' is the '\(URL(fileURLWithPath: model).lastPathComponent)' part of a model folder; "
            + "pass the model folder '\(parent)'")
      }
      if isDirectory.boolValue && config != nil { throw fail("--config is only for a single-file --model") }
    } else if config != nil {
      throw fail("--config is only for a single-file --model")
    }
    if let prediction, Self.predictionType(named: prediction) == nil {
      throw fail("--prediction must be epsilon or v (got '\(prediction)')")
    }
    for (option, path) in [("--rank-with", rankWith), ("--config", config)] {
      guard let path else { continue }
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
        isDirectory.boolValue
      else {
        throw fail("\(option) '\(path)' is not a folder")
      }
    }
  }

  /// The parsed options as ``EditSettings``.
  package var settings: EditSettings {
    var settings = EditSettings(
      imagePath: image, mask: mask == "alpha" ? .alpha : .file(mask), prompt: prompt,
      outputPath: output)
    settings.modelPath = model
    settings.modelConfigurationDirectory = config
    settings.predictionType = prediction.flatMap(Self.predictionType(named:))
    settings.loras = lora.compactMap { LoRASetting(argument: $0) }
    settings.negativePrompt = negativePrompt
    settings.stepCount = steps
    settings.guidanceScale = guidance
    settings.strength = strength
    settings.seed = seed
    settings.batchSize = batch
    settings.scheduler = resolvedScheduler
    settings.inpaintingBlend = inpaintingBlend == .on
    settings.background = background
    settings.maskShrinkLevels = maskShrink
    settings.maskDownsample = maskDownsample
    settings.cropPadding = cropToMask
    settings.featherRadius = feather
    settings.fineTunePreset = fineTune
    settings.fineTuneIterations = fineTuneIterations
    settings.fineTuneActivationBytes = fineTuneMemoryGB.map { Int($0 * 1e9) }
    settings.workingSize = workingSize
    settings.rankingModelDirectory = rankWith
    settings.threadCount = threads
    settings.precision = precision
    settings.json = json
    settings.quiet = quiet
    settings.overwrite = overwrite
    return settings
  }

  /// Runs with the real backend, console and signal handling; exits non-zero on failure (1) or
  /// cancellation (130 for Ctrl-C or SIGTERM, 129 for SIGHUP, 131 for SIGQUIT).
  package func run() throws {
    let cancellation = CancellationToken()
    let temporaries = TemporaryFiles()
    let console = ProcessConsole()
    let monitor = InterruptMonitor(token: cancellation, temporaries: temporaries) {
      ProcessConsole().writeError("\nbld: cancelling… (press Ctrl-C again to quit at once)\n")
    }
    defer { monitor.stop() }
    var status = execute(
      backend: defaultEditBackend(), console: console, cancellation: cancellation,
      temporaries: temporaries)
    if status == 130 { status = monitor.exitStatus }  // 129 for SIGHUP, 131 for SIGQUIT
    if status != 0 { throw ExitCode(status) }
  }

  /// Runs the edit and reports on `console`; the code path `run()` uses, with its collaborators injected.
  /// - Returns: the exit status: 0 on success, 130 when cancelled, 1 on any other error (after printing
  ///   `bld: error: …` as one line on standard error).
  package func execute(
    backend: any EditBackend, console: any CommandConsole, cancellation: CancellationToken,
    temporaries: TemporaryFiles, randomSeed: (() -> UInt64)? = nil
  ) -> Int32 {
    let settings = self.settings
    let progressBar = ProgressBar(
      console: console, isEnabled: console.standardErrorIsTerminal && !settings.quiet)
    var session = EditSession(
      settings: settings, backend: backend, console: console, cancellation: cancellation,
      temporaries: temporaries)
    if let randomSeed { session.randomSeed = randomSeed }
    do {
      let summary = try session.run(progressBar: progressBar)
      if settings.json {
        console.writeOutput(summary.jsonLine() + "\n")
      } else {
        for (index, path) in summary.outputs.enumerated() {
          if let score = summary.scores?[index] {
            console.writeOutput(path + "\tscore " + String(format: "%.4f", score) + "\n")
          } else {
            console.writeOutput(path + "\n")
          }
        }
      }
      return 0
    } catch {
      progressBar.finish()
      temporaries.deleteAll()
      let cancelled = cancellation.isCancelled || (error as? EditCommandError) == .cancelled
      let message = cancelled ? EditCommandError.cancelled.description : Self.oneLine(error)
      console.writeError("bld: error: \(message)\n")
      return cancelled ? 130 : 1
    }
  }

  /// `--scheduler`, or the model's default: the scheduler class of its configuration (the folder's, `--config`'s,
  /// or Euler for an SDXL single file) when it is one of `bld`'s, else DDIM (the method's default).
  var resolvedScheduler: SchedulerChoice {
    if let scheduler { return scheduler }
    guard let model else { return .ddim }
    let modelURL = URL(fileURLWithPath: model)
    var isDirectory: ObjCBool = false
    _ = FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory)
    let folder = isDirectory.boolValue ? modelURL : config.map { URL(fileURLWithPath: $0) }
    if let folder {
      let file = ModelDirectory(root: folder).schedulerConfiguration
      return (try? SchedulerConfiguration.decode(contentsOf: file)).flatMap {
        SchedulerChoice(diffusersClass: $0.className)
      }
        ?? .ddim
    }
    let family = try? CheckpointFamily(contentsOf: modelURL)
    return family?.generation == .stableDiffusionXL ? .euler : .ddim
  }

  /// The seed `--seed` gives: an integer in 0…2⁶⁴ − 1.
  /// - Throws: `ValidationError` naming the range, for anything else (`-1`, `1.5`, `abc`).
  static func seed(from text: String) throws -> UInt64 {
    guard let value = UInt64(text) else {
      throw ValidationError("--seed must be an integer from 0 to \(UInt64.max) (got '\(text)')")
    }
    return value
  }

  /// The model folder a component folder such as `MODEL/unet` belongs to: its parent, when `path` has no
  /// `model_index.json` and the parent has one. `nil` otherwise.
  static func modelFolder(containing path: String) -> String? {
    let folder = URL(fileURLWithPath: path).standardizedFileURL
    let parent = folder.deletingLastPathComponent()
    let manager = FileManager.default
    guard !manager.fileExists(atPath: folder.appendingPathComponent("model_index.json").path),
      manager.fileExists(atPath: parent.appendingPathComponent("model_index.json").path)
    else { return nil }
    return parent.path
  }

  /// The prediction type `--prediction` names: `epsilon` (or `eps`), `v` (or `v_prediction`).
  static func predictionType(named name: String) -> PredictionType? {
    switch name.lowercased() {
    case "epsilon", "eps": .epsilon
    case "v", "v_prediction", "v-prediction": .vPrediction
    default: nil
    }
  }

  /// An error's description on one line (newlines folded).
  static func oneLine(_ error: any Error) -> String {
    String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
  }
}
