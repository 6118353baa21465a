import BlendedLatent
import Foundation
import TensorCore

/// The work of one job: the edit request at working size, the seeds to run it with (one edit per seed), and
/// how each result goes back into the original — the same steps as `bld edit`, so a job and the command give
/// the same pixels for the same settings.
package struct EditPlan: Sendable {
  /// The original image `[3, H, W]` in [0, 1] (for AUTOMATIC1111 and OpenAI, already at the requested size).
  package var original: Tensor
  /// The mask `[H, W]` at the original's size; ≥ 0.5 = edit.
  package var mask: Tensor
  /// Where the edit happens and at what size.
  package var geometry: EditGeometry
  /// The request (its image and mask are the working ones; its seed is set per run).
  package var request: EditRequest
  /// One edit per seed, in order (native and OpenAI: one; AUTOMATIC1111: `seed, seed + 1, …`).
  package var seeds: [UInt64]
  /// What replaces the original inside the edited region: the mask (paste background) or the whole region.
  package var pastePolicy: PastePolicy
  /// Whether progress reports carry preview images.
  package var preview: Bool

  /// Creates a plan; the request's image and mask are replaced by the geometry's working ones.
  package init(
    original: Tensor, mask: Tensor, geometry: EditGeometry, request: EditRequest, seeds: [UInt64],
    pastePolicy: PastePolicy, preview: Bool
  ) {
    self.original = original
    self.mask = mask
    self.geometry = geometry
    self.request = request
    self.request.image = geometry.workingImage(from: original)
    self.request.mask = geometry.workingMask(from: mask)
    self.seeds = seeds
    self.pastePolicy = pastePolicy
    self.preview = preview
  }

  /// The number of result images the plan produces when it runs to the end.
  package var resultCount: Int { seeds.count * request.batchSize }

  /// What a run produced: PNG results with their seeds, and the error that stopped it, if any.
  package struct Outcome: Sendable {
    /// The results' PNG files, in order.
    package var images: [Data] = []
    /// The seed of each result's edit.
    package var seeds: [UInt64] = []
    /// Why the plan stopped before its end (`PipelineError.cancelled` when cancelled).
    package var error: PipelineError?
  }

  /// Progress of a plan: the edit's report and which of the plan's edits it belongs to.
  package struct Progress: Sendable {
    /// The edit's index among ``EditPlan/seeds``.
    package var run: Int
    /// The number of edits.
    package var runs: Int
    /// The edit's report.
    package var report: EditProgress
  }

  /// Runs the edits one after another on `service`, composites and encodes each result. Stops at the first
  /// error or cancellation, keeping the results finished before it.
  /// - Parameters:
  ///   - service: The actor that owns the model.
  ///   - progress: Receives every report (on the service's queue).
  package func run(on service: EditingService, progress: @escaping @Sendable (Progress) -> Void) async -> Outcome {
    var outcome = Outcome()
    for (index, seed) in seeds.enumerated() {
      var request = self.request
      request.seed = seed
      let runs = seeds.count
      do throws(PipelineError) {
        let result = try await service.edit(request, preview: preview ? .stableDiffusion : nil) { report in
          progress(Progress(run: index, runs: runs, report: report))
        }
        for edited in result.images {
          let composite = geometry.composite(edited: edited, into: original, mask: mask, policy: pastePolicy)
          guard let png = try? RGBImage(tensor: composite).pngData() else {
            outcome.error = .unsupported("a result could not be encoded as PNG")
            return outcome
          }
          outcome.images.append(png)
          outcome.seeds.append(seed)
        }
      } catch {
        outcome.error = error
        return outcome
      }
    }
    return outcome
  }
}
