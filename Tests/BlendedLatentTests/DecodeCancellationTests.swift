import BlendedLatent
import Foundation
import TensorCore
import Testing

/// Decoding asks its `shouldStop` every band of 16 rows (and during a JPEG's scans), so a cancelled edit need not
/// wait for a long decode (issue 16, finding 6: "cancellation checked inside long encodes and decodes").
@Suite("Cancellation inside PNG and JPEG decodes")
struct DecodeCancellationTests {
  /// A 2048 × 2048 PNG (a smooth gradient, so it is built quickly), made once.
  static let largePNGResult = Result {
    let side = 2048
    var tensor = Tensor(shape: [3, side, side])
    tensor.withUnsafeMutableBufferPointer { values in
      for index in values.indices { values[index] = Float(index % side) / Float(side) }
    }
    return try RGBImage(tensor: tensor).pngData()
  }
  static var largePNG: Data { get throws { try largePNGResult.get() } }

  /// Decodes `data`, answering `true` from the `stopAt`-th question on; returns the questions asked and the error.
  func decode(_ data: Data, stoppingAt stopAt: Int) -> (questions: Int, error: (any Error)?) {
    var questions = 0
    do {
      _ = try RGBImage(decoding: data, fileName: "large.png") {
        questions += 1
        return questions >= stopAt
      }
      return (questions, nil)
    } catch {
      return (questions, error)
    }
  }

  @Test func largePNGIsAskedEveryBandAndStopsAtOnce() throws {
    let uncancelled = decode(try Self.largePNG, stoppingAt: .max)
    #expect(uncancelled.error == nil)
    #expect(uncancelled.questions >= 2048 / 16, "\(uncancelled.questions) questions")
    let cancelled = decode(try Self.largePNG, stoppingAt: 3)
    #expect(cancelled.questions == 3, "the decode went on after it was told to stop")
    #expect(
      cancelled.error as? ImageFileError == .cancelled(file: "large.png"), "\(String(describing: cancelled.error))")
    #expect((cancelled.error as? ImageFileError)?.description == "decoding 'large.png' was cancelled")
  }

  @Test("a cancelled decode returns long before a whole one", .timeLimit(.minutes(1)))
  func cancelledDecodeIsPrompt() throws {
    let data = try Self.largePNG
    let clock = ContinuousClock()
    let whole = clock.measure { _ = decode(data, stoppingAt: .max) }
    let cancelled = clock.measure { _ = decode(data, stoppingAt: 1) }
    #expect(cancelled * 4 < whole, "cancelled \(cancelled), whole \(whole)")
  }

  @Test(
    "JPEG: baseline and progressive decodes stop when asked", arguments: ["rgb.jpg", "progressive.jpg", "cmyk.jpg"])
  func jpeg(name: String) throws {
    let data = try Data(contentsOf: ImageFixtures.url(name))
    let uncancelled = decode(data, stoppingAt: .max)
    #expect(uncancelled.error == nil && uncancelled.questions >= 1)
    let cancelled = decode(data, stoppingAt: 1)
    #expect(cancelled.questions == 1)
    #expect(cancelled.error as? ImageFileError == .cancelled(file: "large.png"))
  }

  @Test func withoutAQuestionNothingChanges() throws {
    let image = try RGBImage(decoding: try Self.largePNG, fileName: "large.png")
    #expect(image.width == 2048 && image.height == 2048)
  }
}
