import BlendedLatent
import BlendedLatentCommand
import Foundation
import TensorCore

/// A console that records what the command writes.
final class RecordingConsole: CommandConsole {
  var standardErrorIsTerminal: Bool
  private(set) var output = ""
  private(set) var error = ""

  init(terminal: Bool = false) { standardErrorIsTerminal = terminal }

  func writeOutput(_ text: String) { output += text }
  func writeError(_ text: String) { error += text }
}

struct FakeFailure: Error, CustomStringConvertible {
  var description: String { "the fake editor failed\non two lines" }
}

/// An editor whose `edit` is a closure; records the jobs it receives.
final class FakeEditor: PreparedEditor {
  let nativeResolution: Int
  let sizeMultiple: Int
  let modelDescription = "fake model"
  let notices: [String]
  let body: (EditRequest, ProgressHandler) throws -> EditResult
  private(set) var jobs: [EditRequest] = []

  init(
    nativeResolution: Int = 64, sizeMultiple: Int = 8, notices: [String] = [],
    body: @escaping (EditRequest, ProgressHandler) throws -> EditResult
  ) {
    self.nativeResolution = nativeResolution
    self.sizeMultiple = sizeMultiple
    self.notices = notices
    self.body = body
  }

  func edit(_ job: EditRequest, progress: ProgressHandler) throws -> EditResult {
    jobs.append(job)
    return try body(job, progress)
  }

  /// Returns the working image unchanged, `batch` times, reporting `steps` denoising steps.
  static func identity(nativeResolution: Int = 64, steps: Int = 4) -> FakeEditor {
    FakeEditor(nativeResolution: nativeResolution) { job, progress in
      for step in 0...steps {
        if progress(
          EditProgress(phase: .denoising, completed: step, total: steps))
          == .stop
        {
          throw FakeFailure()
        }
      }
      var timings = EditTimings()
      timings.denoising = .milliseconds(10)
      return .fake(images: Array(repeating: job.image, count: job.batchSize), timings: timings)
    }
  }

  /// Returns constant images (value `0.1 · (index + 1)` for result `index`).
  static func constant(nativeResolution: Int = 64, scores: [Float]? = nil) -> FakeEditor {
    FakeEditor(nativeResolution: nativeResolution) { job, _ in
      let images = (0..<job.batchSize).map { index in
        Tensor(shape: job.image.shape, repeating: 0.1 * Float(index + 1))
      }
      return .fake(images: images, scores: scores)
    }
  }
}

/// A backend handing out one editor; counts loads.
final class FakeBackend: EditBackend {
  let editor: FakeEditor?
  private(set) var loads = 0
  private(set) var lastSettings: EditSettings?

  init(_ editor: FakeEditor?) { self.editor = editor }

  func prepareEditor(settings: EditSettings, progress: ProgressHandler) throws
    -> any PreparedEditor
  {
    loads += 1
    lastSettings = settings
    _ = progress(EditProgress(phase: .loading, completed: 1, total: 1))
    guard let editor else { throw FakeFailure() }
    return editor
  }
}

extension EditResult {
  /// A result as a fake editor returns it: the images (and scores), placeholder latents.
  static func fake(images: [Tensor], scores: [Float]? = nil, timings: EditTimings = EditTimings()) -> EditResult {
    let latents = Tensor(shape: [max(images.count, 1), 4, 1, 1], repeating: 0)
    return EditResult(
      images: images, scores: scores, latentMask: Tensor(shape: [1, 1], repeating: 1), finalLatents: latents,
      sourceLatents: Tensor(shape: [1, 4, 1, 1], repeating: 0), denoisingStepCount: 1, timings: timings)
  }
}

/// A scratch folder, removed on deinit.
final class ScratchFolder {
  let url: URL

  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "bld-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(at: url) }

  func path(_ name: String) -> String { url.appendingPathComponent(name).path }

  /// Entries in the folder, hidden ones included, sorted.
  var entries: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
  }

  /// Writes a deterministic 8-bit RGB(A) image and returns its path.
  @discardableResult
  func writeImage(_ name: String, width: Int, height: Int, alpha: [UInt16]? = nil, seed: UInt64 = 3)
    throws -> String
  {
    var state = seed
    let samples = (0..<(3 * width * height)).map { _ -> UInt16 in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return UInt16(state >> 56)
    }
    let image = RGBImage(
      width: width, height: height, depth: .eight, samples: samples, alpha: alpha)
    try image.pngData().write(to: url.appendingPathComponent(name))
    return path(name)
  }

  /// Writes a binary mask selecting `region` and returns its path.
  @discardableResult
  func writeMask(_ name: String, width: Int, height: Int, selecting region: PixelRegion) throws
    -> String
  {
    var mask = Tensor(shape: [height, width])
    for y in region.y..<region.maxY { for x in region.x..<region.maxX { mask[y, x] = 1 } }
    try RGBImage.grayPNGData(mask).write(to: url.appendingPathComponent(name))
    return path(name)
  }
}

/// Parses `bld edit` arguments and runs the command's real code path with injected collaborators.
struct EditRun {
  var status: Int32
  var console: RecordingConsole
}

func runEdit(
  _ arguments: [String], backend: any EditBackend, console: RecordingConsole = RecordingConsole(),
  cancellation: CancellationToken = CancellationToken(),
  temporaries: TemporaryFiles = TemporaryFiles(),
  randomSeed: (() -> UInt64)? = nil
) throws -> EditRun {
  let command = try EditCommand.parse(arguments)
  let status = command.execute(
    backend: backend, console: console, cancellation: cancellation, temporaries: temporaries,
    randomSeed: randomSeed)
  return EditRun(status: status, console: console)
}
