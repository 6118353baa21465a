import Foundation
import Hummingbird

extension EditServer {
  /// The native API: submit, status, events, cancel, results, model.
  func addNativeRoutes(to router: Router<BasicRequestContext>) {
    let limits = options.limits
    router.post("/v1/edits") { request, _ -> Response in
      let fields = try await RequestBodyReader.fields(of: request, maximumBytes: limits.maximumBodyBytes)
      let plan = try NativeEditRequest.plan(fields, model: model, limits: limits, randomSeed: randomSeed)
      let snapshot = try await queue.submit(plan)
      var headers: HTTPFields = [:]
      headers[.location] = "/v1/edits/\(snapshot.id)"
      return Self.json(snapshot.json, status: .accepted, headers: headers)
    }
    router.get("/v1/edits/:id") { _, context -> Response in
      Self.json(try await job(context).json)
    }
    router.get("/v1/edits/:id/events") { _, context -> Response in
      let id = try await job(context).id
      return ServerSentEvents.response(await queue.updates(id))
    }
    router.post("/v1/edits/:id/cancel") { _, context -> Response in
      let id = try await job(context).id
      return Self.json((await queue.cancel(id))?.json ?? .null)
    }
    router.delete("/v1/edits/:id") { _, context -> Response in
      let id = try await job(context).id
      return Self.json((await queue.cancel(id))?.json ?? .null)
    }
    router.get("/v1/edits/:id/results/:index") { _, context -> Response in
      let id = try await job(context).id
      guard let index = context.parameters.get("index").flatMap(Int.init),
        let png = await queue.result(id, index: index)
      else { throw APIError.notFound("job \(id) has no result \(context.parameters.get("index") ?? "")") }
      var headers: HTTPFields = [:]
      headers[.contentType] = "image/png"
      headers[.contentDisposition] = "attachment; filename=\"edit-\(id.prefix(8))-\(index).png\""
      return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: png)))
    }
    router.get("/v1/model") { _, _ -> Response in
      Self.json(
        .object([
          "name": .string(model.name), "native_resolution": .number(Double(model.nativeResolution)),
          "queue": .object([
            "waiting": .number(Double(await queue.waitingCount)), "capacity": .number(Double(limits.queueCapacity)),
          ]),
          "limits": .object([
            "max_body_bytes": .number(Double(limits.maximumBodyBytes)),
            "max_pixels": .number(Double(limits.maximumPixelCount)),
            "max_steps": .number(Double(limits.maximumStepCount)),
            "max_batch": .number(Double(limits.maximumBatchSize)),
          ]),
        ]))
    }
  }

  /// The job named by the route's `:id`.
  func job(_ context: BasicRequestContext) async throws(APIError) -> JobSnapshot {
    let id = context.parameters.get("id") ?? ""
    guard let snapshot = await queue.snapshot(id) else { throw APIError.notFound("no job '\(id)'") }
    return snapshot
  }

  /// A JSON response.
  static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.data)))
  }
}
