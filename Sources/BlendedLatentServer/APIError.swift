import BlendedLatent
import Foundation
import Hummingbird

/// An error answered to a client: an HTTP status and the JSON body `{"error": {"code": …, "message": …}}`,
/// the same shape on every route (native, AUTOMATIC1111 and OpenAI).
package struct APIError: Error, HTTPResponseError, CustomStringConvertible {
  /// The HTTP status.
  package var status: HTTPResponse.Status
  /// A stable, machine-readable code (`bad_base64`, `queue_full`, …).
  package var code: String
  /// One line for people.
  package var message: String
  /// Extra headers (`Retry-After`, `WWW-Authenticate`).
  package var headers: HTTPFields = [:]

  /// Creates an error.
  package init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
    self.status = status
    self.code = code
    self.message = message.replacingOccurrences(of: "\n", with: " ")
    self.headers = headers
  }

  /// `code: message`.
  package var description: String { "\(code): \(message)" }

  /// The JSON body.
  package var body: Data {
    JSONValue.object(["error": .object(["code": .string(code), "message": .string(message)])]).data
  }

  /// The response: the status, the headers and the JSON body.
  package func response(from request: Request, context: some RequestContext) throws -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
  }

  /// The request's geometry as the library refuses it (a size or padding it cannot place), as a 422.
  package static func geometry(_ error: EditGeometryError) -> APIError {
    APIError(.unprocessableContent, "invalid_geometry", error.description)
  }

  /// 422: a field has a value the server cannot use.
  package static func invalidField(_ name: String, _ reason: String) -> APIError {
    APIError(.unprocessableContent, "invalid_field", "field '\(name)': \(reason)")
  }

  /// 400: the body is not what the route reads (not JSON, not multipart).
  package static func badRequest(_ message: String) -> APIError {
    APIError(.badRequest, "bad_request", message)
  }

  /// 404: no such job or result.
  package static func notFound(_ message: String) -> APIError {
    APIError(.notFound, "not_found", message)
  }

  /// 503: the server is shutting down.
  package static let shuttingDown = APIError(
    .serviceUnavailable, "shutting_down", "the server is shutting down and takes no more edits")
}

/// Runs a geometry computation on request values, turning the library's refusal into a 422 (request errors pass
/// through as they are).
func placed<T>(_ body: () throws -> T) throws(APIError) -> T {
  do { return try body() } catch let error as APIError { throw error } catch let error as EditGeometryError {
    throw .geometry(error)
  } catch {
    throw APIError(.unprocessableContent, "invalid_geometry", "\(error)")
  }
}
