import Foundation

/// A `multipart/form-data` body (RFC 7578) split into its parts.
///
/// Only what forms send is read: each part's `Content-Disposition: form-data; name="…"; filename="…"`; other
/// part headers are ignored. The whole body is in memory (its size is limited before parsing).
package struct MultipartForm: Sendable {
  /// One part of the form.
  package struct Part: Sendable {
    /// The field name.
    package var name: String
    /// The file name the client sent (only a label: the server never opens it), or `nil` for a text field.
    package var fileName: String?
    /// The part's bytes.
    package var data: Data
  }

  /// The parts in body order.
  package var parts: [Part]

  /// Parses `body` with the boundary of `contentType`.
  /// - Throws: ``APIError`` 400 `bad_multipart` naming what is wrong.
  package init(body: Data, contentType: String) throws(APIError) {
    guard let boundary = Self.boundary(in: contentType) else {
      throw APIError(.badRequest, "bad_multipart", "multipart/form-data without a boundary parameter")
    }
    let delimiter = Data("--\(boundary)".utf8)
    let bytes = [UInt8](body)
    var parts: [Part] = []
    guard var cursor = Self.find(Array(delimiter), in: bytes, from: 0) else {
      throw APIError(.badRequest, "bad_multipart", "the multipart body has no boundary line")
    }
    let separator = Array("\r\n".utf8) + Array(delimiter)
    let headerEnd = Array("\r\n\r\n".utf8)
    while true {
      cursor += delimiter.count
      if bytes.count >= cursor + 2 && bytes[cursor] == UInt8(ascii: "-") && bytes[cursor + 1] == UInt8(ascii: "-") {
        break
      }
      guard let headersEnd = Self.find(headerEnd, in: bytes, from: cursor) else {
        throw APIError(.badRequest, "bad_multipart", "a multipart part has no end of headers")
      }
      guard let next = Self.find(separator, in: bytes, from: headersEnd + 4) else {
        throw APIError(.badRequest, "bad_multipart", "the multipart body is not terminated by its boundary")
      }
      let headers = String(decoding: bytes[cursor..<headersEnd], as: UTF8.self)
      guard let disposition = Self.disposition(in: headers) else {
        throw APIError(.badRequest, "bad_multipart", "a multipart part has no Content-Disposition name")
      }
      parts.append(
        Part(name: disposition.name, fileName: disposition.fileName, data: Data(bytes[(headersEnd + 4)..<next])))
      cursor = next + 2
    }
    self.parts = parts
  }

  /// The `boundary` parameter of a `Content-Type` value.
  static func boundary(in contentType: String) -> String? {
    for parameter in contentType.split(separator: ";").dropFirst() {
      let pair = parameter.split(separator: "=", maxSplits: 1)
      guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" else {
        continue
      }
      let value = pair[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
      return value.isEmpty ? nil : value
    }
    return nil
  }

  /// `name` and `filename` of a part's `Content-Disposition` header.
  static func disposition(in headers: String) -> (name: String, fileName: String?)? {
    for line in headers.split(separator: "\r\n") {
      let header = line.split(separator: ":", maxSplits: 1)
      guard header.count == 2, header[0].lowercased() == "content-disposition" else { continue }
      var name: String?
      var fileName: String?
      for parameter in header[1].split(separator: ";") {
        let pair = parameter.split(separator: "=", maxSplits: 1)
        guard pair.count == 2 else { continue }
        let key = pair[0].trimmingCharacters(in: .whitespaces).lowercased()
        let value = pair[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(
          in: CharacterSet(charactersIn: "\""))
        if key == "name" { name = value } else if key == "filename" { fileName = value }
      }
      return name.map { ($0, fileName) }
    }
    return nil
  }

  /// The first index of `needle` in `haystack` at or after `start`.
  static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
    guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
    let first = needle[0]
    var index = start
    while index <= haystack.count - needle.count {
      if haystack[index] == first && haystack[index..<(index + needle.count)].elementsEqual(needle) {
        return index
      }
      index += 1
    }
    return nil
  }
}
