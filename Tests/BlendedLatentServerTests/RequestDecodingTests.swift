import BlendedLatent
import BlendedLatentServer
import Foundation
import TensorCore
import Testing

/// The request decoding the fuzz harness drives (`RequestDecoding`, Fuzz/Sources/FuzzServerRequests): its seeds
/// decode as the routes do, and bodies that once trapped are refused with an error naming the field.
@Suite("Request decoding: fuzz seeds and regressions")
struct RequestDecodingTests {
  /// A committed seed's body, route and content type (first byte: route in bits 0–1, multipart in bit 2).
  static func seed(_ name: String) throws -> (body: Data, route: RequestDecoding.Route, contentType: String) {
    let seed = try Data(contentsOf: repositoryRoot.appendingPathComponent("Fuzz/Corpus/server-requests/\(name)"))
    let selector = try #require(seed.first)
    let route = RequestDecoding.Route.allCases[Int(selector & 3)]
    let contentType = selector & 4 != 0 ? "multipart/form-data; boundary=bldfuzz" : "application/json"
    return (seed.dropFirst(), route, contentType)
  }

  /// An OpenAI edit form: an 8 × 8 PNG with one transparent pixel (the area to edit), a prompt and `size`.
  static func openAIForm(size: String) throws -> (body: Data, contentType: String) {
    var pixels = Tensor(shape: [3, 8, 8], repeating: 0.5)
    pixels[0, 0, 0] = 1
    var alpha = Tensor(shape: [8, 8], repeating: 1)
    alpha[2, 2] = 0
    let image = try RGBImage(tensor: pixels, alpha: alpha).pngData()
    return EndpointTests.multipart(files: ["image": image], fields: ["prompt": "a hat", "size": size])
  }

  /// The seeds of valid requests and the results each plan asks for (`batch_size`, `n_iter`, `batch`, `n`).
  @Test(
    "the seeds of valid requests are accepted with their result counts",
    arguments: [
      ("a1111-img2img.json", 2), ("a1111-txt2img.json", 2), ("native.json", 2), ("native-alpha.json", 1),
      ("native.multipart", 1), ("openai.multipart", 2),
    ])
  func seedIsAccepted(name: String, results: Int) throws {
    let seed = try Self.seed(name)
    #expect(try RequestDecoding.decode(body: seed.body, contentType: seed.contentType, route: seed.route) == results)
  }

  /// The multipart img2img seed sends a mask but no `init_images` (A1111 reads images only as base64 fields).
  @Test func multipartImageToImageSeedIsRefusedForItsMissingImage() throws {
    let seed = try Self.seed("a1111-img2img.multipart")
    #expect(seed.route == .automatic1111ImageToImage)
    let error = try #require(throws: APIError.self) {
      try RequestDecoding.decode(body: seed.body, contentType: seed.contentType, route: seed.route)
    }
    #expect(error.status.code == 422 && error.message.contains("'init_images'"), "\(error)")
  }

  /// OpenAI's `size` multiplied its two sides unchecked, so `9999999999999x9999999999999` overflowed (a trap)
  /// before the pixel limit was compared; and pieces that were not numbers were dropped, so `64xabcx64` was
  /// `64x64`. Each side is now 8–65536 and the value exactly two numbers; everything else is 422 naming `size`.
  @Test(
    "OpenAI size values that are not two sides of 8 to 65536 are a field error",
    arguments: [
      "9999999999999x9999999999999", "4294967296x4294967296", "65537x8", "8x65537", "7x64", "64x0", "-64x64",
      "64xabcx64", "64x64x", "x64", "64", "64*64", "",
    ])
  func openAISizeIsAFieldError(size: String) throws {
    let form = try Self.openAIForm(size: size)
    let error = try #require(throws: APIError.self) {
      try RequestDecoding.decode(body: form.body, contentType: form.contentType, route: .openAIImageEdit)
    }
    #expect(error.status.code == 422 && error.code == "invalid_field", "\(error)")
    #expect(error.message.contains("'size'"), "\(error)")
  }

  /// The same form is accepted with a size in range (the image is resampled to it) or `auto`; a size within the
  /// side bounds but over `--max-pixels` is still the 413 of the pixel limit.
  @Test func openAISizeInRangeIsAcceptedAndThePixelLimitStillApplies() throws {
    for size in ["16x16", "8X24", "auto"] {
      let form = try Self.openAIForm(size: size)
      #expect(
        try RequestDecoding.decode(body: form.body, contentType: form.contentType, route: .openAIImageEdit) == 1,
        "size \(size)")
    }
    let form = try Self.openAIForm(size: "65536x65536")
    let error = try #require(throws: APIError.self) {
      try RequestDecoding.decode(body: form.body, contentType: form.contentType, route: .openAIImageEdit)
    }
    #expect(error.status.code == 413 && error.code == "too_many_pixels", "\(error)")
  }
}
