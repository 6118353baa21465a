import Foundation

/// The fields of one request body — a JSON object, or the parts of a multipart form (text parts as strings,
/// file parts as bytes) — read with typed accessors whose errors name the field (422 `invalid_field`).
package struct RequestFields: Sendable {
  /// The values by field name.
  package var values: [String: JSONValue]
  /// The bytes of multipart file parts by field name.
  package var files: [String: Data]

  /// Fields from a JSON object body.
  /// - Throws: ``APIError`` 400 when the body is not a JSON object.
  package init(json data: Data) throws(APIError) {
    guard case .object(let values) = try JSONValue(parsing: data) else {
      throw APIError.badRequest("the body must be a JSON object")
    }
    self.values = values
    self.files = [:]
  }

  /// Fields from a parsed multipart form.
  package init(form: MultipartForm) {
    var values: [String: JSONValue] = [:]
    var files: [String: Data] = [:]
    for part in form.parts {
      if part.fileName != nil {
        files[part.name] = part.data
      } else {
        values[part.name] = .string(String(decoding: part.data, as: UTF8.self))
      }
    }
    self.values = values
    self.files = files
  }

  /// Every field name given (values and files).
  package var names: Set<String> { Set(values.keys).union(files.keys) }

  /// Rejects every field not in `known` (422 `unknown_field`), naming the first one in alphabetical order.
  package func rejectUnknown(_ known: Set<String>) throws(APIError) {
    if let unknown = names.subtracting(known).sorted().first {
      throw APIError(
        .unprocessableContent, "unknown_field",
        "unknown field '\(unknown)'; known fields: \(known.sorted().joined(separator: ", "))")
    }
  }

  /// A string field, or `nil` when absent or `null`.
  package func string(_ name: String) throws(APIError) -> String? {
    switch values[name] {
    case nil, .null: return nil
    case .string(let value): return value
    case let value?: throw APIError.invalidField(name, "must be a string, got \(value.summary)")
    }
  }

  /// A number field (a JSON number or a numeric string), or `nil` when absent, `null` or an empty string.
  package func number(_ name: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
    let number: Double
    switch values[name] {
    case nil, .null: return nil
    case .number(let value): number = value
    case .string(let text) where text.trimmingCharacters(in: .whitespaces).isEmpty: return nil
    case .string(let text):
      guard let value = Double(text.trimmingCharacters(in: .whitespaces)) else {
        throw APIError.invalidField(name, "must be a number, got \(JSONValue.string(text).summary)")
      }
      number = value
    case let value?: throw APIError.invalidField(name, "must be a number, got \(value.summary)")
    }
    guard number.isFinite, range.contains(number) else {
      throw APIError.invalidField(
        name, "\(JSONValue.number(number).summary) is outside \(format(range.lowerBound))…\(format(range.upperBound))")
    }
    return number
  }

  /// An integer field, or `nil` when absent.
  package func integer(_ name: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
    guard let value = try number(name, in: Double(range.lowerBound)...Double(range.upperBound)) else {
      return nil
    }
    guard value.rounded() == value else { throw APIError.invalidField(name, "must be a whole number") }
    return Int(value)
  }

  /// A boolean field (`true`/`false`, 1/0 or their strings), or `nil` when absent.
  package func bool(_ name: String) throws(APIError) -> Bool? {
    switch values[name] {
    case nil, .null: return nil
    case .bool(let value): return value
    case .number(let value) where value == 0 || value == 1: return value == 1
    case .string(let text):
      switch text.lowercased() {
      case "true", "1", "on", "yes": return true
      case "false", "0", "off", "no", "": return false
      default: throw APIError.invalidField(name, "must be true or false, got \(JSONValue.string(text).summary)")
      }
    case let value?: throw APIError.invalidField(name, "must be true or false, got \(value.summary)")
    }
  }

  /// A string field that must be one of `choices` (compared case-insensitively), or `nil` when absent.
  package func choice<Choice: RawRepresentable & CaseIterable>(_ name: String, _ type: Choice.Type)
    throws(APIError) -> Choice? where Choice.RawValue == String
  {
    guard let text = try string(name) else { return nil }
    guard let choice = Choice.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
      throw APIError.invalidField(
        name,
        "\(JSONValue.string(text).summary) is not one of \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return choice
  }

  private func format(_ value: Double) -> String {
    value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
  }
}
