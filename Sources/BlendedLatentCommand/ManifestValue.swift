/// One value of a `bld batch` manifest line, as JSON gives it.
///
/// Numbers keep their integer form when they have one, so a 64-bit seed such as 18446744073709551615
/// reaches the option parser exactly (a `Double` would round it).
package enum ManifestValue: Decodable, Sendable, Equatable {
  /// A JSON string.
  case string(String)
  /// A JSON number that is an integer (within the 64-bit signed or unsigned range).
  case integer(String)
  /// Any other JSON number.
  case number(Double)
  /// `true` or `false`.
  case boolean(Bool)
  /// `null`.
  case null
  /// An array or an object.
  case structure

  /// Decodes any JSON value.
  package init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .boolean(value)
    } else if let value = try? container.decode(Int64.self) {
      self = .integer(String(value))
    } else if let value = try? container.decode(UInt64.self) {
      self = .integer(String(value))
    } else if let value = try? container.decode(Double.self) {
      self = .number(value)
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else {
      self = .structure
    }
  }

  /// The value as the text one would type after the option on `bld edit`'s command line; `nil` for booleans,
  /// `null`, arrays and objects, which no edit option takes.
  package var argumentText: String? {
    switch self {
    case .string(let text), .integer(let text): text
    case .number(let value): "\(value)"
    case .boolean, .null, .structure: nil
    }
  }

  /// What the value is, for error messages (`a boolean`, `null`, …).
  package var kind: String {
    switch self {
    case .string: "a string"
    case .integer, .number: "a number"
    case .boolean: "a boolean"
    case .null: "null"
    case .structure: "an array or object"
    }
  }
}
