import Foundation

/// Why a safetensors file could not be read or written. Every case names the file, and the tensor where
/// one is involved.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file could not be opened or mapped.
  case unreadable(file: String, reason: String)
  /// The file is shorter than the 8-byte header length, or the header runs past the end of the file.
  case truncatedHeader(file: String, headerLength: UInt64, fileSize: Int)
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
  public var description: String {
    switch self {
    case .unreadable(let file, let reason): "\(file): cannot read safetensors file: \(reason)"
    case .truncatedHeader(let file, let length, let size):
      "\(file): header length \(length) does not fit in a file of \(size) bytes"
    case .malformedHeader(let file, let reason): "\(file): malformed safetensors header: \(reason)"
    case .malformedEntry(let file, let tensor, let reason): "\(file): tensor '\(tensor)': \(reason)"
    case .unknownDType(let file, let tensor, let dtype): "\(file): tensor '\(tensor)' has unknown dtype '\(dtype)'"
    case .unsupportedDType(let file, let tensor, let dtype):
      "\(file): tensor '\(tensor)' has dtype \(dtype), which cannot be read as float32"
    case .sizeMismatch(let file, let tensor, let shape, let dtype, let byteCount):
      "\(file): tensor '\(tensor)' of shape \(shape) and dtype \(dtype) does not fill its \(byteCount)-byte range"
    case .rangeOutOfBounds(let file, let tensor, let range, let dataSize):
      "\(file): tensor '\(tensor)' byte range \(range) is outside the \(dataSize)-byte data section"
    case .overlappingRanges(let file, let first, let second):
      "\(file): tensors '\(first)' and '\(second)' overlap"
    case .missingTensor(let file, let tensor): "\(file): no tensor named '\(tensor)'"
    case .writeFailed(let file, let reason): "\(file): cannot write safetensors file: \(reason)"
    }
  }
}

extension SafetensorsError: LocalizedError {
  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
