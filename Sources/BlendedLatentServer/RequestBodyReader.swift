import Foundation
import Hummingbird

/// Reads a request body under the server's size limit into ``RequestFields``: JSON objects and
/// `multipart/form-data` forms.
package enum RequestBodyReader {
  /// The body's fields.
  /// - Throws: ``APIError`` 413 `body_too_large` (by `Content-Length` before reading, or while reading),
  ///   400 for a body that is not JSON or multipart.
  package static func fields(of request: Request, maximumBytes: Int) async throws(APIError) -> RequestFields {
    let data = try await bytes(of: request, maximumBytes: maximumBytes)
    return try fields(of: data, contentType: request.headers[.contentType] ?? "")
  }

  /// The fields of a body already read: a `multipart/form-data` form when `contentType` says so, else a JSON
  /// object.
  /// - Throws: ``APIError`` 400 for a body that is not JSON or multipart.
  package static func fields(of data: Data, contentType: String) throws(APIError) -> RequestFields {
    if contentType.lowercased().hasPrefix("multipart/form-data") {
      return RequestFields(form: try MultipartForm(body: data, contentType: contentType))
    }
    return try RequestFields(json: data)
  }

  /// The body's bytes.
  /// - Throws: ``APIError`` 413 `body_too_large`.
  package static func bytes(of request: Request, maximumBytes: Int) async throws(APIError) -> Data {
    let tooLarge = APIError(
      .contentTooLarge, "body_too_large",
      "the request body is larger than \(maximumBytes) bytes (the server's --max-body-mb)")
    if let length = request.headers[.contentLength].flatMap(Int.init), length > maximumBytes { throw tooLarge }
    do {
      let buffer = try await request.body.collect(upTo: maximumBytes)
      return Data(buffer: buffer)
    } catch {
      throw tooLarge
    }
  }
}
