import Foundation

/// Reads diffusers / transformers JSON configurations with snake_case keys and turns decoding failures into
/// `ConfigurationError`s that name the file and field.
enum ConfigurationFile {
  static func decode<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw ConfigurationError.unreadable(file: url.path, reason: "\(error.localizedDescription)")
    }
    return try decode(type, from: data, file: url.path)
  }

  static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    do {
      return try decoder.decode(type, from: data)
    } catch let error as DecodingError {
      switch error {
      case .keyNotFound(let key, _):
        throw ConfigurationError.missingField(file: file, field: snakeCase(key.stringValue))
      case .typeMismatch(_, let context), .valueNotFound(_, let context):
        throw ConfigurationError.invalid(
          file: file,
          field: context.codingPath.map { snakeCase($0.stringValue) }.joined(separator: "."),
          reason: context.debugDescription)
      case .dataCorrupted(let context):
        throw ConfigurationError.unreadable(file: file, reason: context.debugDescription)
      @unknown default:
        throw ConfigurationError.unreadable(file: file, reason: "\(error)")
      }
    } catch {
      throw ConfigurationError.unreadable(file: file, reason: "\(error)")
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
