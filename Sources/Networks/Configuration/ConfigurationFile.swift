import Foundation
import TensorCore

/// Reads diffusers / transformers JSON configurations with snake_case keys and turns decoding failures into
/// `ConfigurationError`s that name the file and field in plain words (no Foundation error names).
enum ConfigurationFile {
  static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    let data: Data
    do { data = try RegularFile.read(url) } catch {
      throw ConfigurationError.unreadable(file: url.path, reason: error.reason)
    }
    return try decode(type, from: data, file: url.path)
  }

  static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    do {
      return try decoder.decode(type, from: data)
    } catch let error as DecodingError {
      throw configurationError(error, file: file)
    } catch let error as ConfigurationError {
      throw error
    } catch {
      throw ConfigurationError.unreadable(file: file, reason: "not valid JSON")
    }
  }

  /// A `DecodingError` as a `ConfigurationError` naming the field and the expected kind of value.
  static func configurationError(_ error: DecodingError, file: String) -> ConfigurationError {
    func field(_ context: DecodingError.Context) -> String {
      context.codingPath.map { $0.intValue.map(String.init) ?? snakeCase($0.stringValue) }.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, _):
      return .missingField(file: file, field: snakeCase(key.stringValue))
    case .typeMismatch(let type, let context) where context.codingPath.isEmpty:
      return .unreadable(file: file, reason: "the file is not \(kind(of: type))")
    case .typeMismatch(let type, let context):
      return .invalid(file: file, field: field(context), reason: "expected \(kind(of: type))")
    case .valueNotFound(let type, let context):
      return .invalid(file: file, field: field(context), reason: "expected \(kind(of: type)), found null")
    case .dataCorrupted(let context) where context.codingPath.isEmpty:
      return .unreadable(file: file, reason: "not valid JSON")
    case .dataCorrupted(let context):
      return .invalid(
        file: file, field: field(context),
        reason: "the value does not fit the field (a fraction or an out-of-range number where an integer belongs?)")
    @unknown default:
      return .unreadable(file: file, reason: "not a valid configuration")
    }
  }

  /// "an integer", "a number", "a list"… for the Swift type a field decodes to.
  static func kind(of type: Any.Type) -> String {
    switch type {
    case is Int.Type, is Int32.Type, is Int64.Type, is UInt64.Type: "an integer"
    case is Float.Type, is Double.Type: "a number"
    case is String.Type: "a string"
    case is Bool.Type: "true or false"
    default:
      "\(type)".hasPrefix("Dictionary") ? "a JSON object" : "\(type)".hasPrefix("Array") ? "a list" : "a valid value"
    }
  }

  /// `blockOutChannels` → `block_out_channels`.
  static func snakeCase(_ name: String) -> String {
    var result = ""
    for character in name {
      if character.isUppercase {
        result += "_" + character.lowercased()
      } else {
        result.append(character)
      }
    }
    return result
  }
}
