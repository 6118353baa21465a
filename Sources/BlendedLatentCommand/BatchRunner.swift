import BlendedLatent
import Foundation

/// The whole of `bld batch` after parsing: runs the jobs of one shard of a manifest, one after another,
/// with one model.
///
/// For each non-blank line of the shard, in order: parse it (``BatchJob``; an invalid line is reported and
/// skipped), skip it when its outputs and sidecar exist (done by an earlier run), otherwise run it through
/// ``EditSession`` exactly as `bld edit` would, then write the sidecar (`OUT.png.json`: the edit's JSON summary)
/// atomically. The sidecar is written last, so it marks a finished job: a job with outputs but no sidecar (a
/// process killed between the two) is run again and its outputs replaced. Failures are reported one line each and
/// the run goes on; a cancellation (Ctrl-C, SIGTERM) stops after cleaning up the running job.
package struct BatchRunner {
  /// The manifest.
  package var manifest: BatchManifest
  /// Which of its lines to run.
  package var shard: ShardSelection
  /// The folder `output` paths are relative to.
  package var outputDirectory: String
  /// The run's `bld edit` options (model, threads, …), appended to every job's.
  package var runArguments: [String]
  /// Loads the model (wrapped so that it loads once).
  package var backend: any EditBackend
  /// Where results and errors go.
  package var console: any CommandConsole
  /// Set by Ctrl-C or SIGTERM.
  package var cancellation: CancellationToken
  /// Temporary files in flight.
  package var temporaries: TemporaryFiles
  /// No notes or closing tally on standard error (errors are still reported).
  package var quiet = false

  /// Creates a runner.
  package init(
    manifest: BatchManifest, shard: ShardSelection, outputDirectory: String, runArguments: [String],
    backend: any EditBackend, console: any CommandConsole, cancellation: CancellationToken,
    temporaries: TemporaryFiles
  ) {
    self.manifest = manifest
    self.shard = shard
    self.outputDirectory = outputDirectory
    self.runArguments = runArguments
    self.backend = backend
    self.console = console
    self.cancellation = cancellation
    self.temporaries = temporaries
  }

  /// Runs the shard.
  /// - Returns: the exit status: 0 when every job of the shard is done (now or before), 1 when a job failed,
  ///   65 when the only problems are invalid lines, 130 when cancelled.
  package func run() -> Int32 {
    let model = LoadOnceBackend(backend)
    let firstLines = manifest.firstLineByOutput()
    let lineIndices = manifest.jobLineIndices(in: shard)
    var (written, skipped, failed, invalid) = (0, 0, 0, 0)
    var noticesShown = false
    for (position, lineIndex) in lineIndices.enumerated() {
      let number = lineIndex + 1
      guard !cancellation.isCancelled else {
        console.writeError("bld: cancelled before line \(number); finished jobs are kept\n")
        return 130
      }
      let job: BatchJob
      do {
        job = try BatchJob(
          line: manifest.lines[lineIndex], manifestFolder: manifest.folder,
          outputDirectory: outputDirectory, runArguments: runArguments)
        if let first = firstLines[(job.output as NSString).standardizingPath], first != number {
          throw BatchLineError.duplicateOutput(output: job.output, firstLine: first)
        }
      } catch {
        console.writeError("bld: line \(number): invalid: \(error)\n")
        invalid += 1
        continue
      }
      let files = job.settings.outputPaths + [job.sidecarPath]
      if files.allSatisfy(AtomicOutput.entryExists) {
        console.writeOutput("line \(number): skipped \(job.output) (done before)\n")
        skipped += 1
        continue
      }
      do {
        try runJob(job, replacing: files.contains(where: AtomicOutput.entryExists), model: model)
        console.writeOutput("line \(number): written \(job.output)\n")
        written += 1
        if !noticesShown && !quiet, let editor = model.editor {
          for notice in editor.notices { console.writeError("bld: \(notice)\n") }
          noticesShown = true
        }
      } catch {
        temporaries.deleteAll()
        if cancellation.isCancelled || (error as? EditCommandError) == .cancelled {
          console.writeError("bld: line \(number): cancelled; finished jobs are kept, nothing of this one\n")
          return 130
        }
        console.writeError("bld: line \(number): failed: \(EditCommand.oneLine(error))\n")
        failed += 1
        if model.loadFailed {
          let left = lineIndices.count - position - 1
          console.writeError("bld: error: the model did not load; the shard's \(left) remaining lines not run\n")
          failed += left
          break
        }
      }
    }
    if !quiet {
      console.writeError(
        "bld: shard \(shard): \(lineIndices.count) jobs: \(written) written, \(skipped) skipped (done before), "
          + "\(failed) failed, \(invalid) invalid\n")
    }
    return failed > 0 ? 1 : invalid > 0 ? 65 : 0
  }

  /// Runs one job with ``EditSession`` and writes its sidecar.
  /// - Parameter replacing: whether a partial result (outputs without sidecar) is there to be replaced.
  private func runJob(_ job: BatchJob, replacing: Bool, model: LoadOnceBackend) throws {
    var settings = job.settings
    settings.overwrite = replacing
    let folder = URL(fileURLWithPath: settings.outputPath).deletingLastPathComponent()
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let session = EditSession(
      settings: settings, backend: model, console: console, cancellation: cancellation, temporaries: temporaries)
    let summary = try session.run(progressBar: ProgressBar(console: console, isEnabled: false))
    var inputs = [settings.imagePath]
    if case .file(let mask) = settings.mask { inputs.append(mask) }
    try AtomicOutput.write(
      [(job.sidecarPath, Data((summary.jsonLine() + "\n").utf8))], overwrite: true, inputs: inputs,
      temporaries: temporaries)
  }
}
