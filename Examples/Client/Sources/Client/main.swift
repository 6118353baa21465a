import BlendedLatent
import Foundation
import Networks

/// Fails the program with a message on standard error.
func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("client: \(message)\n".utf8))
  exit(1)
}

/// A duration as seconds with one decimal, e.g. "12.5 s".
func seconds(_ duration: Duration) -> String {
  String(format: "%.1f s", duration / .seconds(1))
}

let arguments = CommandLine.arguments
let modelFolder = arguments.firstIndex(of: "--model").map { URL(fileURLWithPath: arguments[$0 + 1]) }
let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../..")
  .standardized

// 1. The actor that owns the model: edits run on its own queue, one at a time.
let service: EditingService
if let modelFolder {
  service = try EditingService(modelFolder: modelFolder)
} else {
  service = EditingService(editor: try BlendedLatentEditor(model: DemonstrationModel.make()))
}
var request = EditRequest(
  image: try RGBImage(contentsOf: examples.appendingPathComponent("lake.png")),
  mask: try RGBImage(contentsOf: examples.appendingPathComponent("lake-mask.png")),
  prompt: "a red boat on the lake")
request.stepCount = 20
request.seed = 42
request.background = .paste()

// 2. One edit in a task, with its progress, cancelled with Task.cancel() after its third step.
let thirdStep = AsyncStream<Void>.makeStream()
let cancelled = Task {
  do {
    _ = try await service.edit(request) { progress in
      print("edit 1: \(progress.phase) \(progress.completed)/\(progress.total), t = \(progress.timestep ?? 0)")
      if progress.completed == 3 { thirdStep.continuation.yield() }
    }
  } catch PipelineError.cancelled(let phase, let completed) {
    print("edit 1: cancelled after \(completed) \(phase) steps")
    return completed
  } catch {
    fail("the cancelled edit failed: \(error)")
  }
  fail("the cancelled edit finished")
}
for await _ in thirdStep.stream { break }
cancelled.cancel()
let stoppedAfter = await cancelled.value
guard stoppedAfter <= 4 else { fail("cancellation took \(stoppedAfter - 3) steps, expected at most one") }

// 3. Another edit on the same actor, to completion, as a stream of events with previews.
var finished: EditResult?
for try await event in service.events(for: request) {
  switch event {
  case .progress(let progress):
    let preview = progress.preview.map { "\($0.width)×\($0.height) preview" } ?? "no preview"
    let left = progress.estimatedRemaining.map(seconds) ?? "?"
    print(
      "edit 2: \(progress.phase) \(progress.completed)/\(progress.total), \(seconds(progress.elapsed)), ETA \(left), \(preview)"
    )
  case .finished(let result):
    finished = result
  }
}
guard let result = finished else { fail("the second edit did not finish") }
let output = URL(fileURLWithPath: "client-edit.png")
try RGBImage(tensor: result.images[0]).pngData().write(to: output)
print("edit 2: wrote \(output.path) (seed \(result.seed ?? 0), \(seconds(result.timings.total)) in all)")

// 4. A corrupt folder: the loading error is one readable line naming folder, component and file.
let corrupt = FileManager.default.temporaryDirectory.appendingPathComponent("client-corrupt-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: corrupt, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: corrupt) }
try Data(#"{"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]"#.utf8)
  .write(to: corrupt.appendingPathComponent("model_index.json"))
do {
  _ = try EditingService(modelFolder: corrupt)
  fail("the corrupt folder loaded")
} catch {
  let line = error.localizedDescription
  guard !line.contains("\n"), line.contains(corrupt.path) else { fail("unreadable loading error: \(line)") }
  print("corrupt folder: \(line)")
}
