import Foundation

/// Why one line of a `bld batch` manifest is not a job. `bld batch` reports it as
/// `bld: line N: invalid: …` and goes on with the next line.
package enum BatchLineError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The line is not JSON, or not a JSON object.
  case malformed(reason: String)
  /// A key that is neither an edit option nor `output`.
  case unknownKey(String)
  /// A key that names an option of the whole run (e.g. `model`), given on the `bld batch` command line.
  case wholeRunKey(String)
  /// A value of a type no edit option takes (booleans, `null`, arrays, objects).
  case wrongType(key: String, found: String)
  /// `output` is missing, or not a relative path inside the output folder.
  case badOutput(reason: String)
  /// Another line of the manifest writes the same output.
  case duplicateOutput(output: String, firstLine: Int)
  /// `bld edit`'s parser or validation refused the values (the message names the key).
  case invalidValue(message: String)

  /// One line.
  package var description: String {
    switch self {
    case .malformed(let reason): "not a JSON object: \(reason)"
    case .unknownKey(let key):
      "unknown key '\(key)' (keys are bld edit's per-edit options in snake case, plus 'output')"
    case .wholeRunKey(let key):
      "'\(key)' applies to the whole run: pass --\(key.replacingOccurrences(of: "_", with: "-")) to bld batch"
    case .wrongType(let key, let found): "'\(key)' must be a string or a number (got \(found))"
    case .badOutput(let reason): "'output' \(reason)"
    case .duplicateOutput(let output, let firstLine): "output '\(output)' is also written by line \(firstLine)"
    case .invalidValue(let message): message
    }
  }
}
