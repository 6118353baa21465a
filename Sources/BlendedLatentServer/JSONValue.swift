import Foundation

/// A JSON value: what request bodies are read into and responses are built from, `Sendable` so it can cross
/// into the job queue.
package enum JSONValue: Sendable, Equatable, Decodable {
  /// `null`.
  case null
  /// `true` / `false`.
  case bool(Bool)
  /// A number.
  case number(Double)
  /// A string.
  case string(String)
  /// An array.
  case array([JSONValue])
  /// An object.
  case object([String: JSONValue])

  /// Parses a JSON document.
  /// - Throws: ``APIError`` 400 `bad_json` when the bytes are not JSON.
  package init(parsing data: Data) throws(APIError) {
    do {
      self = try JSONDecoder().decode(JSONValue.self, from: data)
    } catch {
      throw APIError(.badRequest, "bad_json", "the body is not valid JSON")
    }
  }

  /// Decodes any JSON value (booleans stay booleans, every number is a `Double`).
  package init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Double.self) {
      self = .number(value)
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([JSONValue].self) {
      self = .array(value)
    } else {
      self = .object(try container.decode([String: JSONValue].self))
    }
  }

  /// Whether the value says "not used": `null`, `false`, `0`, `""`, `[]` or `{}`.
  package var isEmptyOrZero: Bool {
    switch self {
    case .null: true
    case .bool(let value): !value
    case .number(let value): value == 0
    case .string(let value): value.isEmpty
    case .array(let values): values.isEmpty
    case .object(let values): values.isEmpty
    }
  }

  /// The value as `JSONSerialization` input.
  var foundationObject: Any {
    switch self {
    case .null: NSNull()
    case .bool(let value): value
    case .number(let value):
      value.rounded() == value && abs(value) < 1e15 ? Int(value) as Any : value as Any
    case .string(let value): value
    case .array(let values): values.map(\.foundationObject)
    case .object(let values): values.mapValues(\.foundationObject)
    }
  }

  /// The encoded document (keys sorted, so responses are stable).
  package var data: Data {
    (try? JSONSerialization.data(
      withJSONObject: foundationObject, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]))
      ?? Data("null".utf8)
  }

  /// The encoded document as text (what AUTOMATIC1111 puts in `info`).
  package var text: String { String(decoding: data, as: UTF8.self) }

  /// A compact description of the value for messages (strings quoted, long values cut).
  package var summary: String {
    let text = self.text
    return text.count > 40 ? String(text.prefix(37)) + "…" : text
  }
}
