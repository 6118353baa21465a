import BlendedLatent
import Foundation
import Networks
import Synchronization
import TensorCore
import Testing
import _TestSupport

/// A noise predictor that sleeps per call and records how many calls ran and how many overlapped.
final class PacedPredictor: NoisePredictor {
  let delay: Duration
  let calls = Atomic<Int>(0)
  private let running = Atomic<Int>(0)
  let mostAtOnce = Atomic<Int>(0)

  /// Calls from number `gatedFrom` on (1-based) wait until ``open()``, so a test can act at a known step however
  /// slowly its own task is scheduled (the suite shares the machine with every other test).
  private let gate = DispatchSemaphore(value: 0)
  private let gatedFrom: Int
  private let entered = Atomic<Int>(0)

  init(delay: Duration = .milliseconds(20), gatedFrom: Int = .max) {
    self.delay = delay
    self.gatedFrom = gatedFrom
  }

  /// Lets the waiting and later calls through.
  func open() { gate.signal() }

  func predictNoise(
    latents: Tensor, timestep: Double, conditioning: Tensor, addedConditions: AddedConditions?
  ) throws -> Tensor {
    if entered.add(1, ordering: .sequentiallyConsistent).newValue >= gatedFrom {
      gate.wait()
      gate.signal()
    }
    calls.add(1, ordering: .sequentiallyConsistent)
    let now = running.add(1, ordering: .sequentiallyConsistent).newValue
    mostAtOnce.max(now, ordering: .sequentiallyConsistent)
    defer { running.subtract(1, ordering: .sequentiallyConsistent) }
    Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) * 1e-18 + Double(delay.components.seconds))
    return try FakeNoisePredictor().predictNoise(latents: latents, timestep: timestep, conditioning: conditioning)
  }
}

/// A list appended to from several threads.
final class ConcurrentLog: Sendable {
  private let values = Mutex<[UInt64]>([])
  func append(_ value: UInt64) { values.withLock { $0.append(value) } }
  var all: [UInt64] { values.withLock { $0 } }
}

@Suite("EditingService: an actor that owns the model")
struct EditingServiceTests {
  static func service(_ predictor: any NoisePredictor = FakeNoisePredictor()) -> EditingService {
    EditingService(
      editor: BlendedLatentEditor(
        textEncoder: FakeTextEncoder(), autoencoder: FakeAutoencoder(), noisePredictor: predictor,
        schedulerConfiguration: .stableDiffusion))
  }

  static func request(steps: Int = 10, seed: UInt64 = 5) -> EditRequest {
    let (image, mask) = EditorInputs.make(height: 32, width: 40)
    return EditRequest(image: image, mask: mask, prompt: "a cat", stepCount: steps, strength: 1, seed: seed)
  }

  @Test("an async edit gives exactly the synchronous editor's result")
  func asyncEditMatchesSynchronous() async throws {
    let service = Self.service()
    let result = try await service.edit(Self.request())
    let direct = try service.editor.edit(Self.request())
    #expect(result.images == direct.images && result.finalLatents == direct.finalLatents)
    #expect(result.seed == 5 && result.denoisingStepCount == 10)
  }

  @Test("cancelling the task stops the edit within one step")
  func taskCancellationStopsWithinOneStep() async throws {
    // Steps 1 and 2 run; step 3 waits for the gate, which opens only after the task is cancelled.
    let predictor = PacedPredictor(gatedFrom: 3)
    let service = Self.service(predictor)
    let reachedTwo = AsyncStream<Int>.makeStream()
    let task = Task {
      try await service.edit(Self.request(steps: 40)) { progress in
        if progress.completed == 2 { reachedTwo.continuation.yield(2) }
      }
    }
    for await _ in reachedTwo.stream { break }
    task.cancel()
    predictor.open()
    await #expect {
      try await task.value
    } throws: { error in
      guard case .cancelled(.denoising, let completed) = error as? PipelineError else { return false }
      // Cancelled while reporting step 2 (it stops there) or once step 3 had begun (it stops after it).
      return completed == 2 || completed == 3
    }
    #expect([2, 3].contains(predictor.calls.load(ordering: .sequentiallyConsistent)))
  }

  @Test("edits run one at a time, in the order they were asked for; a cancelled waiting edit never starts")
  func editsRunOneAtATimeInOrder() async throws {
    // The first edit blocks in its first step until the gate opens, so the others queue behind it.
    let predictor = PacedPredictor(delay: .milliseconds(5), gatedFrom: 1)
    let service = Self.service(predictor)
    let order = ConcurrentLog()
    let first = Task { try await service.edit(Self.request(steps: 6, seed: 1)) { _ in order.append(1) } }
    while await service.pendingEditCount < 1 { try await Task.sleep(for: .milliseconds(1)) }
    let second = Task { try await service.edit(Self.request(steps: 6, seed: 2)) { _ in order.append(2) } }
    while await service.pendingEditCount < 2 { try await Task.sleep(for: .milliseconds(1)) }
    let third = Task { try await service.edit(Self.request(steps: 6, seed: 3)) { _ in order.append(3) } }
    while await service.pendingEditCount < 3 { try await Task.sleep(for: .milliseconds(1)) }
    third.cancel()
    predictor.open()
    let results = try await [first.value, second.value]
    #expect(results.map(\.seed) == [1, 2])
    await #expect(throws: PipelineError.self) { try await third.value }
    #expect(order.all == Array(repeating: 1, count: 6) + Array(repeating: 2, count: 6))
    #expect(predictor.mostAtOnce.load(ordering: .sequentiallyConsistent) == 1)
    #expect(predictor.calls.load(ordering: .sequentiallyConsistent) == 12)
    #expect(await service.pendingEditCount == 0)
  }

  @Test("the event stream carries every step with its timestep and a preview, then the result")
  func eventStream() async throws {
    let service = Self.service()
    var steps: [EditProgress] = []
    var finished: EditResult?
    for try await event in service.events(for: Self.request(steps: 8)) {
      switch event {
      case .progress(let progress): steps.append(progress)
      case .finished(let result): finished = result
      }
    }
    let result = try #require(finished)
    #expect(steps.map(\.completed) == Array(1...8))
    #expect(steps.allSatisfy { $0.phase == .denoising && $0.timestep != nil && $0.total == 8 })
    let preview = try #require(steps.last?.preview)
    #expect(preview.width == 5 && preview.height == 4)  // latent size of a 40×32 image
    #expect(preview == LatentPreview.stableDiffusion.image(of: result.finalLatents))
    #expect(steps.last?.estimatedRemaining == .zero)
  }

  @Test("ending the iteration early cancels the edit")
  func droppingTheStreamCancels() async throws {
    let predictor = PacedPredictor(gatedFrom: 3)
    let service = Self.service(predictor)
    var seen = 0
    for try await event in service.events(for: Self.request(steps: 40), preview: nil) {
      if case .progress = event { seen += 1 }
      if seen == 2 { break }
    }
    // Step 3 cannot finish before the gate opens; leaving the loop cancelled the edit, so no step after it runs.
    predictor.open()
    while await service.pendingEditCount > 0 { try await Task.sleep(for: .milliseconds(5)) }
    #expect(predictor.calls.load(ordering: .sequentiallyConsistent) <= 3)
  }

  @Test("a folder that cannot be loaded is one readable ModelLoadingError line")
  func corruptFolder() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bld-corrupt-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try Data("{ not json".utf8).write(to: folder.appendingPathComponent("model_index.json"))
    do {
      _ = try EditingService(modelFolder: folder)
      Issue.record("a corrupt folder loaded")
    } catch {
      #expect(error.folder == folder.path && error.component == nil)
      #expect(error.file == folder.appendingPathComponent("model_index.json").path)
      #expect(!error.localizedDescription.contains("\n"))
      #expect(error.localizedDescription.hasPrefix("cannot load the model in \(folder.path): "))
    }
  }

  @Test("optimize with an autoencoder that cannot be fine-tuned fails before any network runs")
  func unsupportedBackgroundFailsFirst() throws {
    let predictor = PacedPredictor(delay: .zero)
    let editor = BlendedLatentEditor(
      textEncoder: FakeTextEncoder(), autoencoder: FakeAutoencoder(), noisePredictor: predictor,
      schedulerConfiguration: .stableDiffusion)
    var request = Self.request()
    request.background = .optimize(.fast)
    #expect {
      try editor.edit(request)
    } throws: { error in
      guard case .unsupported(let reason) = error as? PipelineError else { return false }
      return reason.contains("FakeAutoencoder") && reason.contains("FineTunableDecoder")
    }
    #expect(predictor.calls.load(ordering: .sequentiallyConsistent) == 0)
  }

  @Test("a request built from decoded images equals the one built from their tensors")
  func requestFromImages() throws {
    let (image, mask) = EditorInputs.make(height: 16, width: 24)
    let rgb = try RGBImage(tensor: image)
    let maskImage = try RGBImage(
      tensor: Tensor.concatenated([mask, mask, mask].map { $0.reshaped([1, 16, 24]) }, axis: 0))
    let request = EditRequest(image: rgb, mask: maskImage, prompt: "p")
    #expect(request.image == rgb.tensor() && request.mask == maskImage.luminanceTensor())
    #expect(request.mask.shape == [16, 24] && request.prompt == "p" && request.stepCount == 50)
  }
}
