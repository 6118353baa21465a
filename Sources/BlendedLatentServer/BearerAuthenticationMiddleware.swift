import Hummingbird

/// Requires `Authorization: Bearer KEY` on every route but the page (`/` and `/page/…`, which hold no data
/// and ask for the key themselves) and CORS preflights; anything else answers 401 `unauthorized`.
package struct BearerAuthenticationMiddleware<Context: RequestContext>: RouterMiddleware {
  /// The key clients must send.
  let key: [UInt8]

  /// Creates the middleware for one key.
  package init(key: String) { self.key = Array(key.utf8) }

  /// Checks the header, then runs the rest of the chain.
  package func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    let path = request.uri.path
    if request.method == .options || path == "/" || path.hasPrefix("/page/") {
      return try await next(request, context)
    }
    let header = request.headers[.authorization] ?? ""
    guard header.hasPrefix("Bearer "), Self.equalInConstantTime(Array(header.utf8.dropFirst(7)), key) else {
      throw APIError(
        .unauthorized, "unauthorized",
        header.isEmpty ? "this server needs an API key: send 'Authorization: Bearer KEY'" : "wrong API key",
        headers: [.wwwAuthenticate: "Bearer"])
    }
    return try await next(request, context)
  }

  /// Compares without stopping at the first difference, so timing does not reveal the key's prefix.
  static func equalInConstantTime(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    var difference = UInt8(lhs.count == rhs.count ? 0 : 1)
    for index in 0..<max(lhs.count, rhs.count) {
      difference |= (index < lhs.count ? lhs[index] : 0) ^ (index < rhs.count ? rhs[index] : 0)
    }
    return difference == 0
  }
}
