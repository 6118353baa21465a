import Dispatch
import Foundation
import Networks
import TensorCore

/// An actor that owns a loaded model and runs its edits one at a time, in the order they were asked for.
///
/// ```swift
/// let service = try EditingService(modelFolder: URL(fileURLWithPath: "/models/sd15"))
/// for try await event in service.events(for: request) {
///   switch event {
///   case .progress(let progress): print(progress.phase, progress.completed, "/", progress.total)
///   case .finished(let result): try RGBImage(tensor: result.images[0]).pngData().write(to: output)
///   }
/// }
/// ```
///
/// Edits are synchronous CPU work of seconds to minutes; they run on the service's own serial queue, never
/// on the Swift concurrency pool, so awaiting callers and other actors stay responsive. Cancelling the `Task`
/// that awaits ``edit(_:preview:progress:)`` (or dropping the ``events(for:preview:)`` stream) stops the edit
/// at its next denoising step or fine-tuning iteration with ``PipelineError/cancelled(_:completed:)``; an edit
/// cancelled while it waits for its turn never starts.
public actor EditingService {
  /// The editor the edits run with (its components, ranker and compute settings).
  public nonisolated let editor: BlendedLatentEditor
  /// Where the edits run, one at a time.
  private let queue = DispatchQueue(label: "BlendedLatent.EditingService", qos: .userInitiated)
  /// Edits asked for and not yet finished (the running one included).
  public private(set) var pendingEditCount = 0

  /// A service over an editor.
  public init(editor: BlendedLatentEditor) {
    self.editor = editor
  }

  /// Loads a Stable Diffusion folder (diffusers layout) and serves edits on it.
  /// - Parameters:
  ///   - modelFolder: The model folder.
  ///   - computeSettings: Threads and matrix precision of the edits (default: the process's CPUs, fp32).
  ///   - residency: Where the weights live (default: in the memory-mapped files).
  /// - Throws: ``ModelLoadingError`` naming the folder, component and cause (a scheduler configuration that
  ///   cannot be used is reported as component `scheduler`).
  public init(
    modelFolder: URL, computeSettings: ComputeSettings = ComputeSettings(), residency: WeightResidency = .mappedFile
  ) throws(ModelLoadingError) {
    let model = try StableDiffusionModel(directory: ModelDirectory(root: modelFolder), residency: residency)
    do {
      editor = try BlendedLatentEditor(model: model, computeSettings: computeSettings)
    } catch {
      throw ModelLoadingError(folder: modelFolder.path, component: "scheduler", cause: .other(error))
    }
  }

  /// Runs one edit after the ones already asked for.
  /// - Parameters:
  ///   - request: The edit.
  ///   - preview: When set, each denoising report carries a preview image of the current latents.
  ///   - progress: Receives every report, on the service's queue (keep it short).
  /// - Returns: The results.
  /// - Throws: ``PipelineError``; ``PipelineError/cancelled(_:completed:)`` when the calling task is cancelled.
  public func edit(
    _ request: EditRequest, preview: LatentPreview? = nil,
    progress: @escaping @Sendable (EditProgress) -> Void = { _ in }
  ) async throws(PipelineError) -> EditResult {
    pendingEditCount += 1
    defer { pendingEditCount -= 1 }
    let token = CancellationToken()
    let editor = self.editor
    let queue = self.queue
    let outcome: Result<EditResult, PipelineError> = await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        queue.async {
          guard !token.isCancelled else {
            continuation.resume(returning: .failure(.cancelled(.denoising, completed: 0)))
            return
          }
          do throws(PipelineError) {
            let result = try editor.edit(request, preview: preview) { report in
              progress(report)
              return token.progressAction
            }
            continuation.resume(returning: .success(result))
          } catch {
            continuation.resume(returning: .failure(error))
          }
        }
      }
    } onCancel: {
      token.cancel()
    }
    return try outcome.get()
  }

  /// Runs one edit after the ones already asked for, as a stream of events: progress reports, then
  /// ``EditEvent/finished(_:)``. The stream throws the edit's ``PipelineError``. Leaving the loop early, or
  /// cancelling the task that iterates it (which ends the iteration, as for any `AsyncThrowingStream`),
  /// cancels the edit at its next step.
  /// - Parameters:
  ///   - request: The edit.
  ///   - preview: Previews in the denoising reports (default: Stable Diffusion's; `nil` for none).
  public nonisolated func events(
    for request: EditRequest, preview: LatentPreview? = .stableDiffusion
  ) -> AsyncThrowingStream<EditEvent, any Error> {
    AsyncThrowingStream { continuation in
      let task = Task {
        do {
          let result = try await self.edit(request, preview: preview) { continuation.yield(.progress($0)) }
          continuation.yield(.finished(result))
          continuation.finish()
        } catch {
          continuation.finish(throwing: error)
        }
      }
      continuation.onTermination = { _ in task.cancel() }
    }
  }
}
