import Foundation
import Hummingbird

extension EditServer {
  /// The mask-painting page: `index.html` at `/`, its script and style under `/page/`, from the target's
  /// resources (no external scripts or fonts).
  func addPageRoutes(to router: Router<BasicRequestContext>) {
    router.get("/") { _, _ -> Response in try Self.pageFile("index.html", type: "text/html; charset=utf-8") }
    router.get("/page/app.js") { _, _ -> Response in
      try Self.pageFile("app.js", type: "text/javascript; charset=utf-8")
    }
    router.get("/page/style.css") { _, _ -> Response in try Self.pageFile("style.css", type: "text/css; charset=utf-8")
    }
  }

  /// A file of the `Page` resource folder.
  static func pageFile(_ name: String, type: String) throws -> Response {
    guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Page"),
      let data = try? Data(contentsOf: url)
    else { throw APIError.notFound("the page resource \(name) is missing from the build") }
    var headers: HTTPFields = [:]
    headers[.contentType] = type
    headers[.contentSecurityPolicy] =
      "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; style-src 'self'; script-src 'self'"
    return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
  }
}
