import Foundation
import TensorCore

/// Why weights could not be loaded into a network. Every case names the key and/or the file.
public enum WeightLoadingError: Error, CustomStringConvertible, Equatable, Sendable {
  /// No weight file for a component was found; `tried` lists the file names looked for.
  case missingFile(component: String, directory: String, tried: [String])
  /// The network has a parameter the checkpoint lacks.
  case missing(key: String, file: String)
  /// The checkpoint has tensors no parameter uses (the first few keys are listed; `count` is the total).
  case unused(keys: [String], count: Int, file: String)
  /// A tensor's shape differs from the parameter's.
  case shapeMismatch(key: String, file: String, expected: [Int], found: [Int])
  /// A tensor is stored in a dtype other than F32, F16 or BF16.
  case unsupportedDType(key: String, file: String, dtype: String)
  /// The same tensor appears in two files of one component (or twice after key renaming).
  case duplicate(key: String, files: [String])
  /// A sharded checkpoint's `*.safetensors.index.json` is malformed.
  case malformedIndex(file: String, reason: String)
  /// The safetensors file itself is malformed or unreadable.
  case unreadable(file: String, underlying: SafetensorsError)

  /// A one-line explanation naming the key and file.
  public var description: String {
    switch self {
    case .missingFile(let component, let directory, let tried):
      "\(directory): no weights for \(component) (looked for \(tried.joined(separator: ", ")))"
    case .missing(let key, let file): "\(file): no tensor for '\(key)'"
    case .unused(let keys, let count, let file):
      "\(file): \(count) unused tensor\(count == 1 ? "" : "s"): \(keys.joined(separator: ", "))\(count > keys.count ? ", …" : "")"
    case .shapeMismatch(let key, let file, let expected, let found):
      "\(file): '\(key)' has shape \(found), expected \(expected)"
    case .unsupportedDType(let key, let file, let dtype):
      "\(file): '\(key)' has unsupported dtype \(dtype)"
    case .duplicate(let key, let files):
      "'\(key)' appears more than once, in \(files.joined(separator: " and "))"
    case .malformedIndex(let file, let reason): "\(file): malformed shard index: \(reason)"
    case .unreadable(let file, let underlying): "\(file): \(underlying.reason)"
    }
  }
}

extension WeightLoadingError: LocalizedError {
  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
