import BlendedLatent
import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// Scores each image by `−mean(red channel)` (or returns `fixed` scores), recording what it was given; with a
/// `delay` it sleeps that many seconds first (so the editor's ranking timing has a known lower bound).
final class FakeRanker: ResultRanker, @unchecked Sendable {  // each instance is used by one test at a time
  var fixed: [Float]?
  var failure: (any Error)?
  var delay: Double
  private(set) var calls: [(images: [Tensor], mask: Tensor, prompt: String)] = []

  init(fixed: [Float]? = nil, failure: (any Error)? = nil, delay: Double = 0) {
    self.fixed = fixed
    self.failure = failure
    self.delay = delay
  }

  func scores(images: [Tensor], mask: Tensor, prompt: String) throws -> [Float] {
    calls.append((images, mask, prompt))
    if delay > 0 { Thread.sleep(forTimeInterval: delay) }
    if let failure { throw failure }
    if let fixed { return fixed }
    return images.map { image in
      let plane = image.shape[1] * image.shape[2]
      return -image.scalars[0..<plane].reduce(0, +) / Float(plane)
    }
  }
}

@Suite("BlendedLatentEditor with a ranker: scores, order and index mapping")
struct RankingEditorTests {
  func editor(ranker: (any ResultRanker)?) -> BlendedLatentEditor {
    BlendedLatentEditor(
      textEncoder: FakeTextEncoder(), autoencoder: FakeAutoencoder(),
      noisePredictor: FakeNoisePredictor(),
      schedulerConfiguration: .stableDiffusion, ranker: ranker)
  }

  func request(batchSize: Int = 4) -> EditRequest {
    let (image, mask) = EditorInputs.make(height: 16, width: 24)
    return EditRequest(
      image: image, mask: mask, prompt: "a red hat", stepCount: 5, seed: 3, batchSize: batchSize)
  }

  @Test func withoutRankerResultsStayInBatchOrder() throws {
    let result = try editor(ranker: nil).edit(request())
    #expect(result.scores == nil)
    #expect(result.rankedOrder == nil)
    #expect(editor(ranker: nil).ranker == nil)
  }

  @Test func rankerOrdersImagesBestFirstAndKeepsTheIndexMapping() throws {
    let plain = try editor(ranker: nil).edit(request())
    let ranker = FakeRanker()
    let ranked = try editor(ranker: ranker).edit(request())
    let order = try #require(ranked.rankedOrder)
    let scores = try #require(ranked.scores)
    #expect(order.sorted() == [0, 1, 2, 3])
    #expect(scores.count == 4)
    #expect(zip(scores, scores.dropFirst()).allSatisfy { $0 <= $1 })
    // The ranker saw the batch in batch order, with the request's pixel mask and prompt.
    #expect(ranker.calls.count == 1)
    let call = try #require(ranker.calls.first)
    #expect(call.images == plain.images)
    #expect(call.mask == request().mask)
    #expect(call.prompt == "a red hat")
    let batchScores = try ranker.scores(images: plain.images, mask: call.mask, prompt: call.prompt)
    try #require(ranked.images.count == 4 && plain.images.count == 4)
    for (k, index) in order.enumerated() {
      #expect(ranked.images[k] == plain.images[index])
      #expect(scores[k] == batchScores[index])
    }
    // Latents stay in batch order.
    #expect(ranked.finalLatents == plain.finalLatents)
  }

  @Test func rankingTimeIsMeasuredAndPartOfTheTotal() throws {
    let result = try editor(ranker: FakeRanker(delay: 0.05)).edit(request())
    let timings = result.timings
    // The ranker sleeps 50 ms, so the ranking phase takes at least that; the phases are consecutive laps of
    // one clock, so together they cannot exceed the total.
    #expect(timings.ranking >= .milliseconds(50), "ranking \(timings.ranking)")
    let phases = [
      timings.preparation, timings.textEncoding, timings.imageEncoding, timings.denoising, timings.decoding,
      timings.background, timings.ranking,
    ]
    #expect(phases.reduce(.zero, +) <= timings.total, "phases \(phases), total \(timings.total)")
    #expect(timings.total >= timings.ranking)
  }

  @Test func tiesKeepBatchOrder() throws {
    let result = try editor(ranker: FakeRanker(fixed: [0.3, 0.1, 0.3, 0.1])).edit(request())
    #expect(result.rankedOrder == [1, 3, 0, 2])
    #expect(result.scores == [0.1, 0.1, 0.3, 0.3])
  }

  @Test func rankerFailuresArePipelineErrors() {
    struct Broken: Error {}
    #expect {
      try editor(ranker: FakeRanker(failure: Broken())).edit(request())
    } throws: { error in
      if case .componentFailed(.ranking, let underlying)? = error as? PipelineError, underlying is Broken {
        true
      } else {
        false
      }
    }
    #expect {
      try editor(ranker: FakeRanker(fixed: [1, 2])).edit(request())
    } throws: { error in
      if case .componentOutput(.ranking, expected: [4], found: [2])? = error
        as? PipelineError
      {
        true
      } else {
        false
      }
    }
    #expect {
      try editor(ranker: FakeRanker(fixed: [1, .nan, 2, 3])).edit(request())
    } throws: { error in
      if case .nonFiniteOutput(.ranking)? = error as? PipelineError { true } else { false }
    }
  }

  @Test func clipRankerPlugsIntoTheEditor() throws {
    let folder = try RankingFixture.assemble()
    defer { try? FileManager.default.removeItem(at: folder) }
    let clip = try CLIPRanker(directory: folder)
    let base = request(batchSize: 3)
    let plain = try editor(ranker: nil).edit(base)
    let ranked = try editor(ranker: clip).edit(base)
    let expected = try clip.rank(images: plain.images, mask: base.mask, prompt: base.prompt)
    #expect(ranked.rankedOrder == expected.map(\.index))
    #expect(ranked.scores == expected.map(\.distance))
  }
}
