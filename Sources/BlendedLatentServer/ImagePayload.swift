import BlendedLatent
import Foundation
import TensorCore

/// Images as requests carry them — base64 text (optionally a `data:` URL) or multipart file bytes — decoded
/// under the server's limits. The server never reads a file a request names: text that is not base64 is an
/// error, and one that looks like a path or URL says so.
package enum ImagePayload {
  /// The image bytes of a base64 field (`data:image/png;base64,` prefixes and line breaks allowed).
  /// - Throws: ``APIError`` 422 `bad_base64` (or `path_not_accepted` for text that looks like a path or URL).
  package static func bytes(base64 text: String, field: String) throws(APIError) -> Data {
    var payload = Substring(text)
    if payload.hasPrefix("data:"), let comma = payload.firstIndex(of: ",") {
      payload = payload[payload.index(after: comma)...]
    }
    let cleaned = payload.filter { !$0.isWhitespace }
    if let data = Data(base64Encoded: String(cleaned)), !data.isEmpty { return data }
    if looksLikeLocation(text) {
      throw APIError(
        .unprocessableContent, "path_not_accepted",
        "field '\(field)' looks like a path or URL; send the image itself as base64 — the server never opens files or URLs named in requests"
      )
    }
    throw APIError(.unprocessableContent, "bad_base64", "field '\(field)' is not valid base64 image data")
  }

  /// Decodes PNG or JPEG bytes with at most `maximumPixelCount` pixels.
  /// - Throws: ``APIError`` 413 `too_many_pixels`, or 422 `not_an_image`.
  package static func image(_ data: Data, field: String, maximumPixelCount: Int) throws(APIError) -> RGBImage {
    do {
      return try RGBImage(decoding: data, fileName: field, maximumPixelCount: maximumPixelCount)
    } catch ImageFileError.tooLarge {
      throw APIError(
        .contentTooLarge, "too_many_pixels",
        "field '\(field)': the image has more than \(maximumPixelCount) pixels (the server's --max-pixels)")
    } catch {
      throw APIError(
        .unprocessableContent, "not_an_image", "field '\(field)' is not a readable PNG or JPEG image")
    }
  }

  /// The image of a field: the multipart file part of that name, else its base64 text; `nil` when absent.
  /// - Throws: ``APIError`` as ``bytes(base64:field:)`` and ``image(_:field:maximumPixelCount:)``.
  package static func image(in fields: RequestFields, field: String, maximumPixelCount: Int) throws(APIError)
    -> RGBImage?
  {
    if let data = fields.files[field] {
      return try image(data, field: field, maximumPixelCount: maximumPixelCount)
    }
    guard let text = try fields.string(field), !text.isEmpty else { return nil }
    return try image(bytes(base64: text, field: field), field: field, maximumPixelCount: maximumPixelCount)
  }

  /// The base64 text of `image` encoded as PNG.
  package static func base64PNG(_ image: RGBImage) -> String {
    ((try? image.pngData()) ?? Data()).base64EncodedString()
  }

  /// Whether text reads as a file path or URL rather than image data.
  static func looksLikeLocation(_ text: String) -> Bool {
    let lowered = text.lowercased()
    return text.hasPrefix("/") || text.hasPrefix("./") || text.hasPrefix("~") || text.contains("../")
      || text.contains("..\\") || lowered.hasPrefix("file:") || lowered.hasPrefix("http:")
      || lowered.hasPrefix("https:") || (text.count > 2 && text.dropFirst().hasPrefix(":\\"))
  }
}
