import Hummingbird

/// Answers every error in the one JSON shape of ``APIError``: Hummingbird's own (404 for unknown routes,
/// 405, body limits) and anything unexpected (500 with its one-line description).
package struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
  /// Creates the middleware.
  package init() {}

  /// Runs the rest of the chain and converts what it throws.
  package func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    do {
      return try await next(request, context)
    } catch let error as APIError {
      throw error
    } catch let error as HTTPError {
      throw APIError(
        error.status, Self.code(error.status), error.body ?? error.status.reasonPhrase, headers: error.headers)
    } catch let error as any HTTPResponseError {
      throw APIError(error.status, Self.code(error.status), error.status.reasonPhrase)
    } catch {
      throw APIError(.internalServerError, "internal", "\(error)")
    }
  }

  static func code(_ status: HTTPResponse.Status) -> String {
    switch status.code {
    case 400: "bad_request"
    case 401: "unauthorized"
    case 404: "not_found"
    case 405: "method_not_allowed"
    case 413: "body_too_large"
    case 422: "invalid_field"
    default: "http_\(status.code)"
    }
  }
}
