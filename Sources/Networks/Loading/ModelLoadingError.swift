import Foundation

/// Why a model could not be loaded: the folder, the component and the typed cause, kept as values.
///
/// `description` is one line naming the folder, the component and — through the cause — the file, tensor key
/// or configuration field at fault, e.g. `cannot load the model in /models/sd15 (unet): …/config.json: required
/// field 'block_out_channels' is missing`.
public struct ModelLoadingError: Error, CustomStringConvertible, LocalizedError, Sendable {
  /// What went wrong, as the loader that found it reported it.
  public enum Cause: Sendable {
    /// A configuration file (`model_index.json`, `*/config.json`) is unreadable, incomplete or unsupported.
    case configuration(ConfigurationError)
    /// The `tokenizer/` folder is missing or malformed.
    case tokenizer(TokenizerError)
    /// A weights file is missing, unreadable, or its tensors do not match the network (missing, unused,
    /// mis-shaped keys).
    case weights(WeightLoadingError)
    /// A single-file checkpoint is a pickle, unreadable, or of no supported layout.
    case checkpoint(SingleFileCheckpointError)
    /// An error of another type from a component's loader, kept as is.
    case other(any Error)
  }

  /// The model folder or single-file checkpoint (`nil` for a model built in code).
  public var folder: String?
  /// The component being loaded (`"text_encoder"`, `"tokenizer"`, `"unet"`, `"vae"`), or `nil` for the folder
  /// itself (`model_index.json`).
  public var component: String?
  /// The cause.
  public var cause: Cause

  /// Creates an error.
  public init(folder: String?, component: String?, cause: Cause) {
    self.folder = folder
    self.component = component
    self.cause = cause
  }

  /// The file at fault, when the cause names one.
  public var file: String? {
    switch cause {
    case .configuration(let error):
      switch error {
      case .unreadable(let file, _), .missingField(let file, _), .unsupported(let file, _, _), .invalid(let file, _, _),
        .contradictedByWeights(let file, _, _, _, _, _, _):
        file
      }
    case .tokenizer(let error):
      switch error {
      case .missingFile(let path), .unreadableFile(let path, _), .invalidJSON(let path, _): path
      case .invalidField(let file, _, _), .invalidMerge(let file, _, _), .invalidVocabulary(let file, _),
        .unknownSpecialToken(let file, _, _), .unsupported(let file, _, _):
        file
      }
    case .weights(let error):
      switch error {
      case .missingFile(_, let directory, _): directory
      case .missing(_, let file), .unused(_, _, let file), .shapeMismatch(_, let file, _, _),
        .unsupportedDType(_, let file, _), .malformedIndex(let file, _), .unreadable(let file, _):
        file
      case .duplicate(_, let files): files.first
      }
    case .checkpoint(let error):
      switch error {
      case .pickleFile(let file), .unreadable(let file, _), .unknownLayout(let file, _, _): file
      }
    case .other: nil
    }
  }

  /// The tensor key at fault, when the cause names one.
  public var key: String? {
    guard case .weights(let error) = cause else { return nil }
    switch error {
    case .missing(let key, _), .shapeMismatch(let key, _, _, _), .unsupportedDType(let key, _, _),
      .duplicate(let key, _):
      return key
    case .unused(let keys, _, _): return keys.first
    case .missingFile, .malformedIndex, .unreadable: return nil
    }
  }

  /// The configuration field at fault, when the cause names one.
  public var field: String? {
    switch cause {
    case .configuration(.missingField(_, let field)), .configuration(.unsupported(_, let field, _)),
      .configuration(.invalid(_, let field, _)), .tokenizer(.invalidField(_, let field, _)),
      .tokenizer(.unknownSpecialToken(_, let field, _)), .tokenizer(.unsupported(_, let field, _)):
      field
    default: nil
    }
  }

  /// Wraps whatever a loader threw: the package's loading errors become their typed cause.
  static func wrapping(_ error: any Error, folder: String?, component: String?) -> ModelLoadingError {
    let cause: Cause =
      switch error {
      case let error as ModelLoadingError: error.cause
      case let error as ConfigurationError: .configuration(error)
      case let error as TokenizerError: .tokenizer(error)
      case let error as WeightLoadingError: .weights(error)
      case let error as SingleFileCheckpointError: .checkpoint(error)
      default: .other(error)
      }
    return ModelLoadingError(folder: folder, component: component, cause: cause)
  }

  /// One line: folder, component, cause.
  public var description: String {
    let place = folder.map { "the model in \($0)" } ?? "the model"
    let part = component.map { " (\($0))" } ?? ""
    let reason =
      switch cause {
      case .configuration(let error): error.description
      case .tokenizer(let error): error.description
      case .weights(let error): error.description
      case .checkpoint(let error): error.description
      case .other(let error): "\(error)"
      }
    return "cannot load \(place)\(part): \(reason)"
  }

  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
