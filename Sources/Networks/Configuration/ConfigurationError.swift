import Foundation

/// Why a model configuration (`config.json`, `model_index.json`) cannot be used.
/// Every case names the file and, where there is one, the JSON field (in its snake_case spelling).
public enum ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file is missing, unreadable, or not the expected JSON.
  case unreadable(file: String, reason: String)
  /// A required field is absent.
  case missingField(file: String, field: String)
  /// The field holds a value this package does not implement (a block type, an activation, an option).
  case unsupported(file: String, field: String, value: String)
  /// The field's value is inconsistent (wrong list length, channels not divisible by groups or heads…).
  case invalid(file: String, field: String, reason: String)
  /// The field's value disagrees with the weights: tensor `key` of the weight file `weights` has shape `found`
  /// where the value implies `expected` — or, when both are `nil`, the value implies a tensor (a layer) the
  /// weights do not have. Found before any network is allocated.
  case contradictedByWeights(
    file: String, field: String, value: String, key: String, weights: String, expected: [Int]?, found: [Int]?)

  /// A one-line explanation naming the file and field.
  public var description: String {
    switch self {
    case .unreadable(let file, let reason): "\(file): cannot read configuration: \(reason)"
    case .missingField(let file, let field): "\(file): required field '\(field)' is missing"
    case .unsupported(let file, let field, let value):
      "\(file): unsupported value \(value) for '\(field)'"
    case .invalid(let file, let field, let reason): "\(file): invalid '\(field)': \(reason)"
    case .contradictedByWeights(let file, let field, let value, let key, let weights, let expected, let found):
      if let expected, let found {
        "\(file): '\(field)' \(value) disagrees with the weights: '\(key)' in \(weights) has shape \(found), "
          + "but the configuration implies \(expected)"
      } else {
        "\(file): '\(field)' \(value) disagrees with the weights: it implies '\(key)', which \(weights) does not have"
      }
    }
  }
}

extension ConfigurationError: LocalizedError {
  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
