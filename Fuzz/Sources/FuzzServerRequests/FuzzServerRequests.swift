import BlendedLatentServer
import Foundation

/// The multipart boundary the harness's `Content-Type` declares.
let boundary = "bldfuzz"

/// One fuzzer input: a request body for one of the server's edit routes, decoded as the route does it
/// (`RequestDecoding.decode`): JSON or `multipart/form-data` fields, base64 (or `data:` URL) and multipart images
/// decoded under a 64 × 64 pixel limit, the AUTOMATIC1111 img2img/txt2img, native and OpenAI field checks, mask
/// handling, geometry and the plan. The first byte chooses the route (bits 0–1) and whether the rest is sent as
/// multipart with boundary `bldfuzz` (bit 2) or as JSON; every error's description is built.
func fuzzServerRequests(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard size > 0 else { return 0 }
  let routes = RequestDecoding.Route.allCases
  let route = routes[Int(data[0] & 3) % routes.count]
  let contentType =
    data[0] & 4 != 0 ? "multipart/form-data; boundary=\(boundary)" : "application/json"
  let body = Data(bytes: data + 1, count: size - 1)
  do {
    _ = try RequestDecoding.decode(body: body, contentType: contentType, route: route)
  } catch {
    _ = "\(error)"
  }
  return 0
}
