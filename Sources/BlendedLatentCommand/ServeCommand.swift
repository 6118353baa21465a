import ArgumentParser
import BlendedLatent
import BlendedLatentServer
import Dispatch
import Foundation
import TensorCore

/// `bld serve --model PATH`: the editing server (native API, AUTOMATIC1111 API, OpenAI image edits, the
/// mask-painting page; `Documentation/Server.md`).
package struct ServeCommand: ParsableCommand {
  /// The subcommand's name and summary.
  package static let configuration = CommandConfiguration(
    commandName: "serve",
    abstract:
      "Serve edits over HTTP: a mask-painting page at /, a native API under /v1, AUTOMATIC1111's /sdapi/v1 and "
      + "OpenAI's /v1/images/edits. The model loads once; edits run one at a time from a bounded queue.")

  /// `--model`.
  @Option(
    help: ArgumentHelp(
      "Stable Diffusion 1.x/2.x folder in diffusers layout, or single-file .safetensors checkpoint.",
      valueName: "DIR|FILE"))
  package var model: String

  /// `--config`.
  @Option(help: ArgumentHelp("With a single-file --model: a diffusers folder of configurations.", valueName: "DIR"))
  package var config: String?

  /// `--prediction`.
  @Option(help: ArgumentHelp("The UNet's prediction type, overriding the model's.", valueName: "epsilon|v"))
  package var prediction: String?

  /// `--host`.
  @Option(help: ArgumentHelp("Address to listen on; not loopback needs --api-key.", valueName: "ADDRESS"))
  package var host = "127.0.0.1"

  /// `--port`.
  @Option(help: ArgumentHelp("Port to listen on (0: any free port, printed).", valueName: "N"))
  package var port = 7860

  /// `--api-key`.
  @Option(help: ArgumentHelp("Clients must send 'Authorization: Bearer KEY'.", valueName: "KEY"))
  package var apiKey: String?

  /// `--queue`.
  @Option(help: ArgumentHelp("Edits that may wait behind the running one; more answer 429.", valueName: "N"))
  package var queue = 16

  /// `--cors`.
  @Option(
    help: ArgumentHelp("Allow browser pages from this origin to call the API (default: none).", valueName: "ORIGIN"))
  package var cors: String?

  /// `--max-body-mb`.
  @Option(help: ArgumentHelp("Largest request body in MiB (413 beyond).", valueName: "N"))
  package var maxBodyMb = 64

  /// `--max-pixels`.
  @Option(help: ArgumentHelp("Most pixels of an input image or requested size (413 beyond).", valueName: "N"))
  package var maxPixels = 4096 * 4096

  /// `--max-steps`.
  @Option(help: ArgumentHelp("Most denoising steps a request may ask for (422 beyond).", valueName: "N"))
  package var maxSteps = 150

  /// `--max-batch`.
  @Option(help: ArgumentHelp("Most results one request may ask for (422 beyond).", valueName: "N"))
  package var maxBatch = 8

  /// `--threads`.
  @Option(help: ArgumentHelp("Compute threads (default: the CPUs this process may use).", valueName: "N"))
  package var threads: Int?

  /// Creates the command (used by the parser).
  package init() {}

  /// Checks the numbers and the host/key rule before the model loads.
  package func validate() throws {
    for (name, value, minimum) in [
      ("--queue", queue, 0), ("--max-body-mb", maxBodyMb, 1), ("--max-pixels", maxPixels, 64),
      ("--max-steps", maxSteps, 1), ("--max-batch", maxBatch, 1), ("--port", port, 0),
    ] where value < minimum {
      throw ValidationError("\(name) must be ≥ \(minimum) (got \(value))")
    }
    if port > 65_535 { throw ValidationError("--port must be ≤ 65535") }
    if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1 (got \(threads))") }
    if let prediction, EditCommand.predictionType(named: prediction) == nil {
      throw ValidationError("--prediction must be epsilon or v (got '\(prediction)')")
    }
    if apiKey == nil && !EditServer.isLoopback(host) {
      throw ValidationError(EditServer.OptionsError.openHostWithoutKey(host).description)
    }
    guard FileManager.default.fileExists(atPath: model) else {
      throw ValidationError("--model '\(model)' does not exist")
    }
  }

  /// The server options these arguments ask for.
  package var serverOptions: EditServer.Options {
    var options = EditServer.Options()
    options.host = host
    options.port = port
    options.apiKey = apiKey
    options.corsOrigin = cors
    options.limits.maximumBodyBytes = maxBodyMb << 20
    options.limits.maximumPixelCount = maxPixels
    options.limits.maximumStepCount = maxSteps
    options.limits.maximumBatchSize = maxBatch
    options.limits.queueCapacity = queue
    return options
  }

  /// Loads the model and serves until SIGTERM or SIGINT (then cancels the running edit and exits 0).
  package func run() throws {
    let console = ProcessConsole()
    let server: EditServer
    do {
      let loaded = try LoadedModel(
        path: model, configurationDirectory: config,
        predictionType: prediction.flatMap(EditCommand.predictionType(named:)),
        computeSettings: ComputeSettings(threadCount: threads))
      server = try EditServer(
        editor: loaded.editor,
        model: ServedModel(
          name: loaded.name, nativeResolution: loaded.nativeResolution, sizeMultiple: loaded.sizeMultiple),
        options: serverOptions)
      console.writeError("bld serve: model \(loaded.description)\n")
    } catch {
      console.writeError("bld: error: \(EditCommand.oneLine(error))\n")
      throw ExitCode(1)
    }
    let host = host.contains(":") ? "[\(host)]" : host
    let finished = DispatchSemaphore(value: 0)
    let failure = FailureBox()
    Task {
      do {
        try await server.run { port in
          ProcessConsole().writeError("bld serve: listening on http://\(host):\(port)/\n")
        }
      } catch {
        failure.error = error
      }
      finished.signal()
    }
    finished.wait()
    if let error = failure.error {
      console.writeError("bld: error: \(EditCommand.oneLine(error))\n")
      throw ExitCode(1)
    }
    console.writeError("bld serve: stopped\n")
  }
}

/// The server task's error, read after the task signalled.
private final class FailureBox: @unchecked Sendable {
  var error: (any Error)?
}
