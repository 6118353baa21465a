import ArgumentParser
import BlendedLatent
import Foundation

/// `bld batch`: runs the edits of a JSON Lines manifest with one model load, one shard per process for job
/// arrays (Kubernetes Indexed Jobs, Slurm arrays). See `Documentation/ScaleOut.md`.
package struct BatchCommand: ParsableCommand {
  /// The subcommand's name, summary and discussion.
  package static let configuration = CommandConfiguration(
    commandName: "batch",
    abstract: "Run the edits of a JSON Lines manifest (one shard of it for job arrays), loading the model once.",
    discussion: """
      Each line is one edit: a JSON object whose keys are bld edit's per-edit options in snake case \
      (image, mask, prompt, negative_prompt, steps, guidance, strength, seed, scheduler, background, batch, \
      mask_shrink, crop_to_mask, feather, fine_tune, …) plus output, a .png path inside --output-dir. Relative \
      image and mask paths are relative to the manifest's folder. Line k (0-based) belongs to shard k mod N. \
      Each result is written atomically with a JSON sidecar (OUT.png.json, bld edit --json's summary); jobs \
      whose outputs and sidecar exist are skipped, so a re-run shard only does what is missing. Invalid lines \
      and failing jobs are reported one line each, naming the line number, and the run goes on. Exit status: \
      0 every job of the shard done, 1 a job failed, 65 only invalid lines, 64 bad command line or unreadable \
      manifest, 130 interrupted.
      """)

  /// The manifest file.
  @Argument(help: ArgumentHelp("The manifest: one JSON edit per line.", valueName: "JOBS.jsonl"))
  package var manifest: String

  /// `--model`.
  @Option(
    help: ArgumentHelp(
      "Stable Diffusion folder in diffusers layout, or single-file .safetensors checkpoint.", valueName: "DIR|FILE"))
  package var model: String

  /// `--output-dir`.
  @Option(help: ArgumentHelp("The folder every job's output is relative to (it must exist).", valueName: "DIR"))
  package var outputDir: String

  /// `--shard`.
  @Option(
    help: ArgumentHelp(
      "Run shard I of N: the lines k with k mod N = I (default: all lines, or --shards).", valueName: "I/N"))
  package var shard: String?

  /// `--shards`.
  @Option(
    help: ArgumentHelp(
      "Run one of N shards, its index from JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm).",
      valueName: "N"))
  package var shards: Int?

  /// `--config`.
  @Option(
    help: ArgumentHelp(
      "With a single-file --model: a diffusers folder whose configurations and tokenizer to use.", valueName: "DIR"))
  package var config: String?

  /// `--prediction`.
  @Option(help: ArgumentHelp("The UNet's prediction type, overriding the model's.", valueName: "epsilon|v"))
  package var prediction: String?

  /// `--lora` (repeatable): applied once, to the model every job uses.
  @Option(help: ArgumentHelp("A LoRA to apply to the model, with its scale (repeatable).", valueName: "FILE[:SCALE]"))
  package var lora: [String] = []

  /// `--rank-with`.
  @Option(help: ArgumentHelp("CLIP model folder to rank each job's batch.", valueName: "CLIP_DIR"))
  package var rankWith: String?

  /// `--threads`.
  @Option(help: ArgumentHelp("Compute threads (default as for bld edit).", valueName: "N"))
  package var threads: Int?

  /// `--precision`.
  @Option(help: ArgumentHelp("Matrix-product arithmetic.", valueName: "fp32|bf16"))
  package var precision: PrecisionChoice = .fp32

  /// `--quiet`.
  @Flag(help: "No notes and no closing tally on standard error (errors are still reported).")
  package var quiet = false

  /// Creates the command (used by the parser).
  package init() {}

  /// The options every job gets besides its line's: `bld edit`'s spelling of the run's options.
  package var runArguments: [String] {
    var arguments = ["--model=\(model)", "--precision=\(precision.rawValue)", "--quiet"]
    if let config { arguments.append("--config=\(config)") }
    if let prediction { arguments.append("--prediction=\(prediction)") }
    arguments += lora.map { "--lora=\($0)" }
    if let rankWith { arguments.append("--rank-with=\(rankWith)") }
    if let threads { arguments.append("--threads=\(threads)") }
    return arguments
  }

  /// Checks the run's options with `bld edit`'s own validation (on a placeholder edit) and the output folder
  /// and shard options; each failure is one line (exit status 64).
  package func validate() throws {
    do {
      _ = try EditCommand.parse(["--image=-", "--mask=-", "--prompt=-", "--output=-.png"] + runArguments)
    } catch {
      throw ValidationError(EditCommand.message(for: error))
    }
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: outputDir, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw ValidationError("--output-dir '\(outputDir)' is not a folder")
    }
    do {
      _ = try ShardSelection.resolve(shard: shard, shards: shards, environment: ProcessInfo.processInfo.environment)
    } catch {
      throw ValidationError("\(error)")
    }
  }

  /// Runs with the real backend, console and Ctrl-C / SIGTERM / SIGHUP / SIGQUIT handling; exits with ``execute(backend:console:cancellation:temporaries:environment:)``'s status.
  package func run() throws {
    let cancellation = CancellationToken()
    let temporaries = TemporaryFiles()
    let monitor = InterruptMonitor(token: cancellation, temporaries: temporaries) {
      ProcessConsole().writeError("\nbld: cancelling the running job… (press Ctrl-C again to quit at once)\n")
    }
    defer { monitor.stop() }
    var status = execute(
      backend: defaultEditBackend(), console: ProcessConsole(), cancellation: cancellation,
      temporaries: temporaries, environment: ProcessInfo.processInfo.environment)
    if status == 130 { status = monitor.exitStatus }  // 129 for SIGHUP, 131 for SIGQUIT
    if status != 0 { throw ExitCode(status) }
  }

  /// Reads the manifest and runs this process's shard with ``BatchRunner``; the code path `run()` uses, with
  /// its collaborators injected.
  /// - Returns: 0 every job of the shard done (now or before), 1 a job failed, 65 invalid lines (and no
  ///   failed job), 64 unreadable manifest or shard options, 130 cancelled.
  package func execute(
    backend: any EditBackend, console: any CommandConsole, cancellation: CancellationToken,
    temporaries: TemporaryFiles, environment: [String: String]
  ) -> Int32 {
    let selection: ShardSelection
    let jobs: BatchManifest
    do {
      selection = try ShardSelection.resolve(shard: shard, shards: shards, environment: environment)
      jobs = try BatchManifest(contentsOf: manifest)
    } catch let error as ShardSelectionError {
      console.writeError("bld: error: \(error)\n")
      return 64
    } catch {
      console.writeError("bld: error: cannot read the manifest '\(manifest)': \(EditCommand.oneLine(error))\n")
      return 64
    }
    var runner = BatchRunner(
      manifest: jobs, shard: selection, outputDirectory: outputDir, runArguments: runArguments, backend: backend,
      console: console, cancellation: cancellation, temporaries: temporaries)
    runner.quiet = quiet
    return runner.run()
  }
}
