import Foundation

/// Why a safetensors file could not be read or written. Every case names the file, and the tensor where
/// one is involved.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file could not be opened or mapped.
  case unreadable(file: String, reason: String)
  /// The file is shorter than the 8-byte header length, or the header runs past the end of the file.
  case truncatedHeader(file: String, headerLength: UInt64, fileSize: Int)
  /// The header length exceeds ``SafetensorsFile/maximumHeaderLength`` (100 MB, the format's limit).
  case headerTooLarge(file: String, headerLength: UInt64)
  /// The header is not a JSON object of tensor entries.
  case malformedHeader(file: String, reason: String)
  /// A tensor's entry lacks a field or has one of the wrong type.
  case malformedEntry(file: String, tensor: String, reason: String)
  /// A tensor's dtype is not one safetensors defines.
  case unknownDType(file: String, tensor: String, dtype: String)
  /// A tensor's dtype is known but cannot be converted to float32.
  case unsupportedDType(file: String, tensor: String, dtype: String)
  /// `shape × dtype size` differs from the byte range given by `data_offsets`.
  case sizeMismatch(file: String, tensor: String, shape: [Int], dtype: String, byteCount: Int)
  /// A tensor's byte range lies outside the data section.
  case rangeOutOfBounds(file: String, tensor: String, range: [Int], dataSize: Int)
  /// Two tensors' byte ranges overlap.
  case overlappingRanges(file: String, first: String, second: String)
  /// No tensor of that name is in the file.
  case missingTensor(file: String, tensor: String)
  /// Writing the file failed.
  case writeFailed(file: String, reason: String)

  /// A one-line explanation naming the file and tensor.
  public var description: String { "\(file): \(reason)" }

  /// The file the error is about.
  public var file: String {
    switch self {
    case .unreadable(let file, _), .truncatedHeader(let file, _, _), .headerTooLarge(let file, _),
      .malformedHeader(let file, _), .malformedEntry(let file, _, _), .unknownDType(let file, _, _),
      .unsupportedDType(let file, _, _), .sizeMismatch(let file, _, _, _, _), .rangeOutOfBounds(let file, _, _, _),
      .overlappingRanges(let file, _, _), .missingTensor(let file, _), .writeFailed(let file, _):
      file
    }
  }

  /// The explanation without the file name, for callers that name the file themselves.
  public var reason: String {
    switch self {
    case .unreadable(_, let reason): "cannot read safetensors file: \(reason)"
    case .truncatedHeader(_, let length, let size): "header length \(length) does not fit in a file of \(size) bytes"
    case .headerTooLarge(_, let length):
      "header length \(length) exceeds the safetensors limit of \(SafetensorsFile.maximumHeaderLength) bytes"
    case .malformedHeader(_, let reason): "malformed safetensors header: \(reason)"
    case .malformedEntry(_, let tensor, let reason): "tensor '\(tensor)': \(reason)"
    case .unknownDType(_, let tensor, let dtype): "tensor '\(tensor)' has unknown dtype '\(dtype)'"
    case .unsupportedDType(_, let tensor, let dtype):
      "tensor '\(tensor)' has dtype \(dtype), which cannot be read as float32"
    case .sizeMismatch(_, let tensor, let shape, let dtype, let byteCount):
      "tensor '\(tensor)' of shape \(shape) and dtype \(dtype) does not fill its \(byteCount)-byte range"
    case .rangeOutOfBounds(_, let tensor, let range, let dataSize):
      "tensor '\(tensor)' byte range \(range) is outside the \(dataSize)-byte data section"
    case .overlappingRanges(_, let first, let second): "tensors '\(first)' and '\(second)' overlap"
    case .missingTensor(_, let tensor): "no tensor named '\(tensor)'"
    case .writeFailed(_, let reason): "cannot write safetensors file: \(reason)"
    }
  }
}

extension SafetensorsError: LocalizedError {
  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
