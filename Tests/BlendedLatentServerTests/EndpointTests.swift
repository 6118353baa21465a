import BlendedLatent
import Foundation
import TensorCore
import Testing
import _TestSupport

/// The routes the client tests do not drive: native multipart submission with the job's life cycle, OpenAI's
/// multipart image edits (transparent = edit, the original pasted back), AUTOMATIC1111's txt2img, and CORS.
@Suite("bld serve endpoints", .enabled(if: bldExecutable != nil, "bld not built"))
struct EndpointTests {
  static let folder = RepositoryFixtures.endToEndCase("sd1-dpm-shrink")

  /// A multipart/form-data body of file and text parts.
  static func multipart(files: [String: Data], fields: [String: String]) -> (body: Data, contentType: String) {
    let boundary = "bld-test-\(UUID().uuidString)"
    var body = Data()
    for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
      body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
    }
    for (name, data) in files.sorted(by: { $0.key < $1.key }) {
      body.append(
        Data(
          "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(name).png\"\r\nContent-Type: image/png\r\n\r\n"
            .utf8))
      body.append(data)
      body.append(Data("\r\n".utf8))
    }
    body.append(Data("--\(boundary)--\r\n".utf8))
    return (body, "multipart/form-data; boundary=\(boundary)")
  }

  static func object(_ data: Data) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
  }

  @Test("native multipart submission: queued → succeeded, the result PNG at its URL")
  func nativeMultipart() async throws {
    let server = try ServerProcess()
    defer { server.stop() }
    let form = Self.multipart(
      files: [
        "image": try Data(contentsOf: Self.folder.appendingPathComponent("image.png")),
        "mask": try Data(contentsOf: Self.folder.appendingPathComponent("mask.png")),
      ],
      fields: ["prompt": "a red hat", "steps": "6", "seed": "3", "preview": "false"])
    let submitted = try await server.send(
      "POST", "/v1/edits", body: form.body, headers: ["Content-Type": form.contentType])
    #expect(submitted.status == 202, "\(String(decoding: submitted.body, as: UTF8.self))")
    let id = try #require(Self.object(submitted.body)["id"] as? String)
    var job: [String: Any] = [:]
    for _ in 0..<600 {
      job = Self.object(try await server.send("GET", "/v1/edits/\(id)").body)
      if ["succeeded", "failed", "cancelled"].contains(job["status"] as? String ?? "") { break }
      try await Task.sleep(for: .milliseconds(50))
    }
    #expect(job["status"] as? String == "succeeded", "\(job)")
    #expect(job["seeds"] as? [UInt64] == [3] || (job["seeds"] as? [Int]) == [3])
    let result = try await server.send("GET", "/v1/edits/\(id)/results/0")
    #expect(result.status == 200)
    let image = try RGBImage(decoding: result.body, fileName: "result.png")
    #expect(image.width == 16 && image.height == 16)
    #expect(try await server.send("GET", "/v1/edits/\(id)/results/5").status == 404)
  }

  @Test("OpenAI image edits: transparent pixels are edited, opaque ones come back unchanged")
  func openAIEdits() async throws {
    let server = try ServerProcess()
    defer { server.stop() }
    let picture = try RGBImage(contentsOf: Self.folder.appendingPathComponent("image.png"))
    let pixels = picture.tensor()
    let (height, width) = (picture.height, picture.width)
    // The mask: opaque everywhere except a transparent 8 × 8 square.
    let alpha = Tensor(shape: [height, width]) { values in
      for row in 0..<height {
        for column in 0..<width {
          values[row * width + column] = (4..<12).contains(row) && (4..<12).contains(column) ? 0 : 1
        }
      }
    }
    let maskPNG = try RGBImage(tensor: pixels, alpha: alpha).pngData()
    let form = Self.multipart(
      files: ["image": try picture.pngData(), "mask": maskPNG], fields: ["prompt": "a red hat", "n": "2"])
    let answer = try await server.send(
      "POST", "/v1/images/edits", body: form.body, headers: ["Content-Type": form.contentType])
    #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
    let data = try #require(Self.object(answer.body)["data"] as? [[String: Any]])
    #expect(data.count == 2)
    for entry in data {
      let encoded = try #require(entry["b64_json"] as? String)
      let png = try #require(Data(base64Encoded: encoded))
      let result = try RGBImage(decoding: png, fileName: "edit.png").tensor()
      var outsideEqual = true
      var insideChanged = false
      for channel in 0..<3 {
        for row in 0..<height {
          for column in 0..<width {
            let index = (channel * height + row) * width + column
            let inside = (4..<12).contains(row) && (4..<12).contains(column)
            let (a, b) = ((result.scalars[index] * 255).rounded(), (pixels.scalars[index] * 255).rounded())
            if inside { insideChanged = insideChanged || a != b } else { outsideEqual = outsideEqual && a == b }
          }
        }
      }
      #expect(outsideEqual && insideChanged)
    }
  }

  @Test("AUTOMATIC1111 txt2img: an image of the requested size, its seed in info")
  func textToImage() async throws {
    let server = try ServerProcess()
    defer { server.stop() }
    let answer = try await server.send(
      "POST", "/sdapi/v1/txt2img", json: #"{"prompt":"a lake","width":16,"height":16,"steps":4,"seed":9}"#)
    #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
    let body = Self.object(answer.body)
    let images = try #require(body["images"] as? [String])
    #expect(images.count == 1)
    let image = try RGBImage(decoding: try #require(Data(base64Encoded: images[0])), fileName: "txt2img.png")
    #expect(image.width == 16 && image.height == 16)
    let infoText = try #require(body["info"] as? String)
    let info = Self.object(Data(infoText.utf8))
    #expect((info["seed"] as? Int) == 9)
  }

  @Test("CORS: no header unless --cors, then only for that origin")
  func cors() async throws {
    let closed = try ServerProcess()
    let plain = try await closed.send("GET", "/sdapi/v1/samplers", headers: ["Origin": "http://example.test"])
    closed.stop()
    #expect(plain.headers["Access-Control-Allow-Origin"] == nil)
    let open = try ServerProcess(arguments: ["--cors", "http://example.test"])
    defer { open.stop() }
    let allowed = try await open.send("GET", "/sdapi/v1/samplers", headers: ["Origin": "http://example.test"])
    #expect(allowed.headers["Access-Control-Allow-Origin"] as? String == "http://example.test")
  }
}
