import BlendedLatent
import Foundation
import TensorCore
import Testing
import _TestSupport

/// Each bad request answers a clear 4xx in the JSON error shape and the server keeps serving.
@Suite("bld serve refuses bad requests", .enabled(if: bldExecutable != nil, "bld not built"))
struct SecurityTests {
  static let folder = RepositoryFixtures.endToEndCase("sd1-dpm-shrink")

  static func base64(_ name: String) throws -> String {
    try Data(contentsOf: folder.appendingPathComponent(name)).base64EncodedString()
  }

  /// Sends, checks the status and error code, then checks the server still answers.
  static func expectRefused(
    _ server: ServerProcess, _ path: String, method: String = "POST", json: String? = nil, body: Data? = nil,
    headers: [String: String] = [:], status: Int, code: String, sourceLocation: SourceLocation = #_sourceLocation
  ) async throws {
    let answer = try await server.send(method, path, json: json, body: body, headers: headers)
    let error = (try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["error"] as? [String: Any]
    #expect(answer.status == status, "\(String(decoding: answer.body, as: UTF8.self))", sourceLocation: sourceLocation)
    #expect(
      error?["code"] as? String == code, "\(String(decoding: answer.body, as: UTF8.self))",
      sourceLocation: sourceLocation)
    let message = error?["message"] as? String ?? ""
    #expect(!message.isEmpty && !message.contains("\n"), sourceLocation: sourceLocation)
    let alive = try await server.send("GET", "/sdapi/v1/samplers", headers: headers)
    #expect(alive.status == 200 || alive.status == 401, sourceLocation: sourceLocation)
  }

  @Test("oversize body, too many pixels, bad base64, a non-image, paths, steps and batch over the limits")
  func badRequests() async throws {
    let server = try ServerProcess(arguments: ["--max-body-mb", "1", "--max-pixels", "200", "--max-steps", "20"])
    defer { server.stop() }
    let image = try Self.base64("image.png")
    let mask = try Self.base64("mask.png")
    // An 8 × 8 image (64 pixels, under the limit) for the requests that must fail on another field.
    let small = try RGBImage(tensor: Tensor(shape: [3, 8, 8], repeating: 0.5)).pngData().base64EncodedString()
    let big = String(repeating: "A", count: 2 << 20)
    try await Self.expectRefused(
      server, "/v1/edits", json: #"{"image":"\#(big)","prompt":"p"}"#, status: 413, code: "body_too_large")
    try await Self.expectRefused(
      server, "/sdapi/v1/img2img", json: #"{"init_images":["\#(big)"]}"#, status: 413, code: "body_too_large")
    // 16 × 16 = 256 pixels > 200.
    try await Self.expectRefused(
      server, "/v1/edits", json: #"{"image":"\#(image)","mask":"\#(mask)","prompt":"p"}"#, status: 413,
      code: "too_many_pixels")
    try await Self.expectRefused(
      server, "/v1/edits", json: #"{"image":"%%%not base64%%%","mask":"\#(mask)","prompt":"p"}"#, status: 422,
      code: "bad_base64")
    let text = Data("hello, this is not an image".utf8).base64EncodedString()
    try await Self.expectRefused(
      server, "/v1/edits", json: #"{"image":"\#(text)","mask":"\#(mask)","prompt":"p"}"#, status: 422,
      code: "not_an_image")
    // Paths in every kind of field.
    for (path, json, code) in [
      ("/v1/edits", #"{"image":"/etc/passwd","mask":"\#(mask)","prompt":"p"}"#, "path_not_accepted"),
      ("/v1/edits", #"{"image":"../../secret.png","mask":"\#(mask)","prompt":"p"}"#, "path_not_accepted"),
      ("/sdapi/v1/img2img", #"{"init_images":["file:///etc/passwd"]}"#, "path_not_accepted"),
      (
        "/sdapi/v1/img2img", #"{"init_images":["\#(small)"],"width":8,"height":8,"mask":"/tmp/mask.png"}"#,
        "path_not_accepted"
      ),
      ("/v1/edits", #"{"image":"\#(image)","mask":"\#(mask)","prompt":"p","output":"/tmp/x.png"}"#, "unknown_field"),
      ("/sdapi/v1/options", #"{"sd_model_checkpoint":"/etc/passwd"}"#, "model_not_served"),
      (
        "/sdapi/v1/img2img",
        #"{"init_images":["\#(small)"],"width":8,"height":8,"override_settings":{"sd_model_checkpoint":"../other.safetensors"}}"#,
        "model_not_served"
      ),
    ] {
      try await Self.expectRefused(server, path, json: json, status: 422, code: code)
    }
    try await Self.expectRefused(
      server, "/sdapi/v1/img2img", json: #"{"init_images":["\#(image)"],"width":16,"height":16,"steps":500}"#,
      status: 413, code: "too_many_pixels")
    try await Self.expectRefused(
      server, "/sdapi/v1/txt2img", json: #"{"width":8,"height":8,"steps":500}"#, status: 422, code: "invalid_field")
    try await Self.expectRefused(
      server, "/sdapi/v1/txt2img", json: #"{"width":8,"height":8,"batch_size":4,"n_iter":4}"#, status: 422,
      code: "invalid_field")
    try await Self.expectRefused(
      server, "/sdapi/v1/txt2img", json: #"{"width":8,"height":8,"sampler_name":"Heun"}"#, status: 422,
      code: "unknown_sampler")
    try await Self.expectRefused(server, "/v1/edits", json: "not json", status: 400, code: "bad_json")
    try await Self.expectRefused(server, "/v1/edits/nope", method: "GET", status: 404, code: "not_found")
  }

  @Test("a non-loopback bind needs --api-key; without or with a wrong key: 401")
  func apiKeyOnOpenBind() async throws {
    guard let bldExecutable else { return }
    let refused = Process()
    refused.executableURL = bldExecutable
    refused.arguments = [
      "serve", "--model", RepositoryFixtures.tinyModel("sd1-tiny").path, "--host", "0.0.0.0", "--port", "0",
    ]
    let errors = Pipe()
    refused.standardError = errors
    try refused.run()
    let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    refused.waitUntilExit()
    #expect(refused.terminationStatus == 64)
    #expect(message.contains("--api-key"), "\(message)")

    let server = try ServerProcess(host: "0.0.0.0", arguments: ["--api-key", "s3cret-key"])
    defer { server.stop() }
    try await Self.expectRefused(server, "/sdapi/v1/samplers", method: "GET", status: 401, code: "unauthorized")
    try await Self.expectRefused(
      server, "/v1/model", method: "GET", headers: ["Authorization": "Bearer wrong"], status: 401, code: "unauthorized")
    let allowed = try await server.send("GET", "/v1/model", headers: ["Authorization": "Bearer s3cret-key"])
    #expect(allowed.status == 200)
    let page = try await server.send("GET", "/")
    #expect(page.status == 200, "the page itself needs no key (it asks for one)")
  }
}
