import BlendedLatent
import Foundation
import Hummingbird
import ServiceLifecycle

/// The server's jobs: a bounded FIFO of edits waiting behind the one running, and the finished jobs' results
/// (in memory — the server writes no files), with a stream of snapshots per job for progress.
///
/// One job runs at a time (the ``EditingService`` would serialise them anyway; the queue decides the order,
/// the bound and what a cancel means). A full queue refuses new jobs with 429 and a `Retry-After` from the
/// mean duration of recent jobs. As a `Service` in the server's service group it cancels every job on graceful
/// shutdown (SIGTERM/SIGINT), so the process stops at the running edit's next step.
package actor JobQueue: Service {
  private struct Record {
    var plan: EditPlan
    var snapshot: JobSnapshot
    var started: ContinuousClock.Instant?
    var results: [Data] = []
    var subscribers: [UUID: AsyncStream<JobSnapshot>.Continuation] = [:]
  }

  /// The service the edits run on.
  package nonisolated let service: EditingService
  /// The most jobs waiting behind the running one.
  package nonisolated let capacity: Int
  /// The most finished jobs whose results are kept (oldest dropped first).
  package nonisolated let retainedJobCount: Int

  private var records: [String: Record] = [:]
  private var waiting: [String] = []
  private var finished: [String] = []
  private var runningID: String?
  private var runningTask: Task<Void, Never>?
  private var recentRunSeconds: [Double] = []
  private var isShuttingDown = false

  /// Creates a queue over a service.
  /// - Parameters:
  ///   - service: The actor that owns the model.
  ///   - capacity: The most jobs waiting behind the running one.
  ///   - retainedJobCount: The most finished jobs kept for their results (default 64).
  package init(service: EditingService, capacity: Int, retainedJobCount: Int = 64) {
    self.service = service
    self.capacity = capacity
    self.retainedJobCount = retainedJobCount
  }

  /// Adds a job at the end of the queue.
  /// - Returns: The job's first snapshot.
  /// - Throws: ``APIError`` 429 `queue_full` with `Retry-After`, or 503 while shutting down.
  package func submit(_ plan: EditPlan) throws(APIError) -> JobSnapshot {
    guard !isShuttingDown else { throw APIError.shuttingDown }
    guard waiting.count < capacity else {
      let mean = recentRunSeconds.isEmpty ? 5 : recentRunSeconds.reduce(0, +) / Double(recentRunSeconds.count)
      let retryAfter = max(1, Int((mean * Double(waiting.count + 1) / 2).rounded(.up)))
      throw APIError(
        .tooManyRequests, "queue_full",
        "the queue is full (\(waiting.count) edits waiting); retry in about \(retryAfter) s",
        headers: [.retryAfter: String(retryAfter)])
    }
    let id = UUID().uuidString.lowercased()
    let snapshot = JobSnapshot(
      id: id, status: .queued, position: waiting.count, progress: nil, resultCount: 0, seeds: [], error: nil,
      created: Date(), runSeconds: nil)
    records[id] = Record(plan: plan, snapshot: snapshot)
    waiting.append(id)
    startNextIfIdle()
    return records[id]?.snapshot ?? snapshot
  }

  /// A job's current snapshot, or `nil` for an unknown (or dropped) id.
  package func snapshot(_ id: String) -> JobSnapshot? { records[id]?.snapshot }

  /// The running job's snapshot, if any (AUTOMATIC1111's `progress`).
  package var running: JobSnapshot? { runningID.flatMap { records[$0]?.snapshot } }

  /// The number of jobs waiting behind the running one.
  package var waitingCount: Int { waiting.count }

  /// A finished result's PNG bytes.
  package func result(_ id: String, index: Int) -> Data? {
    guard let results = records[id]?.results, results.indices.contains(index) else { return nil }
    return results[index]
  }

  /// Cancels a job: a queued job is removed from the queue; a running one stops at its next step.
  /// - Returns: The job's snapshot (final for a queued job), or `nil` for an unknown id.
  package func cancel(_ id: String) -> JobSnapshot? {
    guard let record = records[id] else { return nil }
    if record.snapshot.status == .queued {
      waiting.removeAll { $0 == id }
      finish(id, outcome: EditPlan.Outcome(error: .cancelled(.denoising, completed: 0)), runSeconds: nil)
      refreshPositions()
    } else if record.snapshot.status == .running {
      runningTask?.cancel()
    }
    return records[id]?.snapshot
  }

  /// Cancels the running job (AUTOMATIC1111's `interrupt`). Returns whether one was running.
  @discardableResult
  package func interruptRunning() -> Bool {
    guard runningID != nil else { return false }
    runningTask?.cancel()
    return true
  }

  /// A stream of the job's snapshots: the current one, then one per change, ending after the final one (or at
  /// once for an unknown id). Slow readers see the newest snapshot, never a stale final state.
  package func updates(_ id: String) -> AsyncStream<JobSnapshot> {
    let (stream, continuation) = AsyncStream.makeStream(
      of: JobSnapshot.self, bufferingPolicy: .bufferingNewest(1))
    guard let snapshot = records[id]?.snapshot else {
      continuation.finish()
      return stream
    }
    continuation.yield(snapshot)
    if snapshot.status.isFinal {
      continuation.finish()
      return stream
    }
    let key = UUID()
    records[id]?.subscribers[key] = continuation
    continuation.onTermination = { _ in Task { await self.unsubscribe(id, key) } }
    return stream
  }

  /// Waits until the job is final and returns its last snapshot (`nil` for an unknown id). Cancelling the
  /// waiting task cancels the job (a client that goes away stops its synchronous edit).
  package func completion(_ id: String) async -> JobSnapshot? {
    let stream = updates(id)
    var last: JobSnapshot?
    await withTaskCancellationHandler {
      for await snapshot in stream { last = snapshot }
    } onCancel: {
      Task { await self.cancel(id) }
    }
    return last.flatMap { $0.status.isFinal ? $0 : records[id]?.snapshot }
  }

  /// Drops a finished job and its results (AUTOMATIC1111 and OpenAI responses carry the images themselves).
  package func discard(_ id: String) {
    guard records[id]?.snapshot.status.isFinal == true else { return }
    records[id] = nil
    finished.removeAll { $0 == id }
  }

  /// Refuses new jobs, cancels the waiting ones and the running one, and waits for the running edit to stop.
  package func shutDown() async {
    isShuttingDown = true
    for id in waiting { _ = cancel(id) }
    runningTask?.cancel()
    await runningTask?.value
  }

  /// Runs until graceful shutdown, then cancels every job (``shutDown()``).
  package func run() async throws {
    try? await gracefulShutdown()
    await shutDown()
  }

  // MARK: - Running

  private func startNextIfIdle() {
    guard runningID == nil, !isShuttingDown, !waiting.isEmpty else { return }
    let id = waiting.removeFirst()
    guard let plan = records[id]?.plan else { return }
    runningID = id
    records[id]?.started = .now
    records[id]?.snapshot.status = .running
    records[id]?.snapshot.position = nil
    publish(id)
    refreshPositions()
    let service = self.service
    runningTask = Task {
      let start = ContinuousClock.now
      let outcome = await plan.run(on: service) { progress in
        Task { await self.record(id, progress) }
      }
      let seconds = (ContinuousClock.now - start).seconds
      self.completeRunning(id, outcome: outcome, runSeconds: seconds)
    }
  }

  private func completeRunning(_ id: String, outcome: EditPlan.Outcome, runSeconds: Double) {
    recentRunSeconds.append(runSeconds)
    if recentRunSeconds.count > 8 { recentRunSeconds.removeFirst() }
    finish(id, outcome: outcome, runSeconds: runSeconds)
    runningID = nil
    runningTask = nil
    startNextIfIdle()
  }

  private func record(_ id: String, _ progress: EditPlan.Progress) {
    guard var record = records[id], record.snapshot.status == .running, let started = record.started else { return }
    let report = progress.report
    let runFraction = report.total > 0 ? Double(report.completed) / Double(report.total) : 0
    let fraction = min(1, (Double(progress.run) + runFraction) / Double(max(1, progress.runs)))
    if let previous = record.snapshot.progress, previous.fraction > fraction { return }
    let elapsed = (ContinuousClock.now - started).seconds
    let preview = report.preview.flatMap { try? $0.pngData() } ?? record.snapshot.progress?.preview
    record.snapshot.progress = JobProgress(
      phase: report.phase.description, completed: report.completed, total: report.total, run: progress.run,
      runs: progress.runs, fraction: fraction, elapsedSeconds: elapsed,
      remainingSeconds: fraction > 0 ? elapsed / fraction - elapsed : nil, preview: preview)
    records[id] = record
    publish(id)
  }

  private func finish(_ id: String, outcome: EditPlan.Outcome, runSeconds: Double?) {
    guard var record = records[id] else { return }
    record.results = outcome.images
    record.snapshot.resultCount = outcome.images.count
    record.snapshot.seeds = outcome.seeds
    record.snapshot.runSeconds = runSeconds
    switch outcome.error {
    case nil: record.snapshot.status = .succeeded
    case .cancelled?: record.snapshot.status = .cancelled
    case let error?:
      record.snapshot.status = .failed
      record.snapshot.error = APIError(.unprocessableContent, "edit_failed", error.description)
    }
    if record.snapshot.status == .succeeded, var progress = record.snapshot.progress {
      progress.fraction = 1
      progress.remainingSeconds = 0
      record.snapshot.progress = progress
    }
    records[id] = record
    publish(id)
    records[id]?.subscribers = [:]
    finished.append(id)
    while finished.count > retainedJobCount { records[finished.removeFirst()] = nil }
  }

  private func publish(_ id: String) {
    guard let record = records[id] else { return }
    for continuation in record.subscribers.values {
      continuation.yield(record.snapshot)
      if record.snapshot.status.isFinal { continuation.finish() }
    }
  }

  private func refreshPositions() {
    for (position, id) in waiting.enumerated() where records[id]?.snapshot.position != position {
      records[id]?.snapshot.position = position
      publish(id)
    }
  }

  private func unsubscribe(_ id: String, _ key: UUID) {
    records[id]?.subscribers[key] = nil
  }
}

extension Duration {
  /// The duration in seconds.
  var seconds: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) + Double(attoseconds) * 1e-18
  }
}
