import Foundation

/// Where a job is in its life.
package enum JobStatus: String, Sendable, Equatable {
  /// Waiting in the queue.
  case queued
  /// Editing now.
  case running
  /// Finished with all its results.
  case succeeded
  /// Stopped by an error (``JobSnapshot/error``).
  case failed
  /// Cancelled (by a client, an AUTOMATIC1111 interrupt or shutdown); results finished before are kept.
  case cancelled

  /// Whether the job will not change any more.
  package var isFinal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// A job's progress: the edit's phase and step, the fraction of the whole job, time spent and left, and the
/// newest preview.
package struct JobProgress: Sendable, Equatable {
  /// `denoising` or `background reconstruction` (decoder fine-tuning).
  package var phase: String
  /// Steps (or fine-tuning iterations) completed in the current edit.
  package var completed: Int
  /// Steps (or iterations) of the current edit's phase.
  package var total: Int
  /// The current edit's index (AUTOMATIC1111's `n_iter`/`batch_size` runs one edit per seed).
  package var run: Int
  /// The number of edits of the job.
  package var runs: Int
  /// The fraction of the whole job done, 0…1.
  package var fraction: Double
  /// Seconds since the job started.
  package var elapsedSeconds: Double
  /// Estimated seconds left, when known.
  package var remainingSeconds: Double?
  /// A PNG preview of the current latents (latent resolution), when previews were asked for.
  package var preview: Data?
}

/// What a client may know about a job at one moment.
package struct JobSnapshot: Sendable {
  /// The job's id (random, unguessable).
  package var id: String
  /// Its status.
  package var status: JobStatus
  /// Jobs ahead of it while queued (0 = next).
  package var position: Int?
  /// The newest progress, once running.
  package var progress: JobProgress?
  /// The finished results' count (PNG files fetched by index).
  package var resultCount: Int
  /// The seed of each finished result.
  package var seeds: [UInt64]
  /// Why it failed.
  package var error: APIError?
  /// When it was submitted.
  package var created: Date
  /// Seconds it ran, once final.
  package var runSeconds: Double?

  /// The native API's JSON form (`Documentation/Server.md`).
  package var json: JSONValue {
    var object: [String: JSONValue] = [
      "id": .string(id), "status": .string(status.rawValue),
      "created": .number(created.timeIntervalSince1970.rounded()),
      "results": .array((0..<resultCount).map { .string("/v1/edits/\(id)/results/\($0)") }),
      "seeds": .array(seeds.map { .number(Double($0)) }),
    ]
    if let position { object["position"] = .number(Double(position)) }
    if let progress {
      var value: [String: JSONValue] = [
        "phase": .string(progress.phase), "completed": .number(Double(progress.completed)),
        "total": .number(Double(progress.total)), "run": .number(Double(progress.run)),
        "runs": .number(Double(progress.runs)), "fraction": .number(progress.fraction),
        "elapsed_seconds": .number(progress.elapsedSeconds),
      ]
      if let remaining = progress.remainingSeconds { value["eta_seconds"] = .number(remaining) }
      if let preview = progress.preview {
        value["preview"] = .string("data:image/png;base64," + preview.base64EncodedString())
      }
      object["progress"] = .object(value)
    }
    if let error {
      object["error"] = .object(["code": .string(error.code), "message": .string(error.message)])
    }
    if let runSeconds { object["run_seconds"] = .number(runSeconds) }
    return .object(object)
  }
}
