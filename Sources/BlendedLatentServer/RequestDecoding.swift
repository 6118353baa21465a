import Foundation

/// The decoding the server's edit routes do before any work is queued — body → fields (JSON object or
/// `multipart/form-data`), base64 and multipart images → decoded images under the pixel limit, fields → the
/// edit's plan — without a server, a model or a queue. It is the entry point of the request-decoding fuzz harness
/// (`Fuzz/Sources/FuzzServerRequests`): every route runs the same code as when it is served.
public enum RequestDecoding {
  /// An edit route whose body is decoded.
  public enum Route: String, CaseIterable, Sendable {
    /// `POST /sdapi/v1/img2img` (AUTOMATIC1111).
    case automatic1111ImageToImage = "/sdapi/v1/img2img"
    /// `POST /sdapi/v1/txt2img` (AUTOMATIC1111).
    case automatic1111TextToImage = "/sdapi/v1/txt2img"
    /// `POST /v1/edits` (native).
    case nativeEdit = "/v1/edits"
    /// `POST /v1/images/edits` (OpenAI).
    case openAIImageEdit = "/v1/images/edits"
  }

  /// Decodes a request body as `route` does for a model working at `nativeResolution` pixels in multiples of 8.
  /// - Parameters:
  ///   - body: The request body.
  ///   - contentType: The `Content-Type` header (`multipart/form-data; boundary=…` or a JSON type).
  ///   - route: The route.
  ///   - maximumPixelCount: The server's `--max-pixels` (keep it small when fuzzing: valid images are resampled).
  ///   - nativeResolution: The model's native resolution.
  /// - Returns: The number of results the plan asks for.
  /// - Throws: The route's error (an HTTP status with a code and a message naming the field) for every body it
  ///   refuses.
  public static func decode(
    body: Data, contentType: String, route: Route, maximumPixelCount: Int = 64 * 64, nativeResolution: Int = 64
  ) throws -> Int {
    var limits = ServerLimits()
    limits.maximumPixelCount = maximumPixelCount
    let model = ServedModel(name: "model.safetensors", nativeResolution: nativeResolution, sizeMultiple: 8)
    let fields = try RequestBodyReader.fields(of: body, contentType: contentType)
    let randomSeed: () -> UInt64 = { UInt64(UInt32.max) }
    switch route {
    case .automatic1111ImageToImage:
      return try AUTOMATIC1111Request.img2img(fields, model: model, limits: limits, randomSeed: randomSeed).plan
        .resultCount
    case .automatic1111TextToImage:
      return try AUTOMATIC1111Request.txt2img(fields, model: model, limits: limits, randomSeed: randomSeed).plan
        .resultCount
    case .nativeEdit:
      return try NativeEditRequest.plan(fields, model: model, limits: limits, randomSeed: randomSeed).resultCount
    case .openAIImageEdit:
      return try OpenAIImageEdit.plan(fields, model: model, limits: limits, randomSeed: randomSeed).plan.resultCount
    }
  }
}
