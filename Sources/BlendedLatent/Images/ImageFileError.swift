import Foundation

/// Why an image or mask file could not be read or written. Every case names the file it is about.
public enum ImageFileError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file could not be opened or read (missing, a directory, no permission, …).
  case unreadable(file: String, reason: String)
  /// The file is an image format this package does not read (only PNG and JPEG are read), or a PNG/JPEG
  /// variant it does not support.
  case unsupportedFormat(file: String, detail: String)
  /// The decoder rejected the data: bad signature, checksum, truncated stream, invalid header, ….
  case corrupt(file: String, detail: String)
  /// The image has more pixels than the limit the caller set.
  case tooLarge(file: String, detail: String)
  /// An alpha-channel mask was asked for, but the file has no alpha channel (nor PNG transparency).
  case noAlphaChannel(file: String)
  /// PNG encoding failed (allocation failure or invalid pixel data).
  case encodingFailed(file: String, detail: String)
  /// Decoding was abandoned because the caller's `shouldStop` answered `true` (a cancelled edit).
  case cancelled(file: String)

  /// The file the error is about (a path or a caller-supplied name).
  public var file: String {
    switch self {
    case .unreadable(let file, _), .unsupportedFormat(let file, _), .corrupt(let file, _),
      .tooLarge(let file, _), .noAlphaChannel(let file), .encodingFailed(let file, _), .cancelled(let file):
      file
    }
  }

  /// A one-line explanation naming the file.
  public var description: String {
    switch self {
    case .unreadable(let file, let reason): "cannot read '\(file)': \(reason)"
    case .unsupportedFormat(let file, let detail): "'\(file)' is not a supported image: \(detail)"
    case .corrupt(let file, let detail): "'\(file)' is corrupt or truncated: \(detail)"
    case .tooLarge(let file, let detail): "'\(file)' is too large: \(detail)"
    case .noAlphaChannel(let file): "'\(file)' has no alpha channel to use as the mask"
    case .encodingFailed(let file, let detail): "cannot encode '\(file)' as PNG: \(detail)"
    case .cancelled(let file): "decoding '\(file)' was cancelled"
    }
  }
}

extension ImageFileError: LocalizedError {
  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
