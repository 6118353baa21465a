import Foundation
import Hummingbird

extension EditServer {
  /// OpenAI's image edit route, answered when the edit is done.
  func addOpenAIRoutes(to router: Router<BasicRequestContext>) {
    let limits = options.limits
    router.post("/v1/images/edits") { request, _ -> Response in
      let fields = try await RequestBodyReader.fields(of: request, maximumBytes: limits.maximumBodyBytes)
      let (plan, asURLs) = try OpenAIImageEdit.plan(fields, model: model, limits: limits, randomSeed: randomSeed)
      let submitted = try await queue.submit(plan)
      guard let snapshot = await queue.completion(submitted.id) else { throw APIError.shuttingDown }
      if snapshot.status == .failed, let error = snapshot.error { throw error }
      guard snapshot.status == .succeeded else {
        throw APIError(.serviceUnavailable, "cancelled", "the edit was cancelled before it finished")
      }
      var data: [JSONValue] = []
      for index in 0..<snapshot.resultCount {
        if asURLs {
          data.append(.object(["url": .string(Self.absoluteURL(request, "/v1/edits/\(snapshot.id)/results/\(index)"))]))
        } else if let png = await queue.result(snapshot.id, index: index) {
          data.append(.object(["b64_json": .string(png.base64EncodedString())]))
        }
      }
      if !asURLs { await queue.discard(snapshot.id) }
      return Self.json(
        .object(["created": .number(snapshot.created.timeIntervalSince1970.rounded()), "data": .array(data)]))
    }
  }

  /// `http://HOST/path` with the request's `Host` header.
  static func absoluteURL(_ request: Request, _ path: String) -> String {
    "http://\(request.head.authority ?? "127.0.0.1")\(path)"
  }
}
