import Foundation

extension SafetensorsFile {
  /// Writes tensors to a safetensors file atomically (a temporary file in the same folder, then a rename).
  ///
  /// - Parameters:
  ///   - tensors: the tensors by name (names may not be `__metadata__`).
  ///   - dtype: the stored element type: `.float32`, `.float16` or `.bfloat16` (rounded to nearest even).
  ///   - metadata: optional `__metadata__` strings.
  ///   - url: the destination.
  /// - Throws: `SafetensorsError.writeFailed`.
  public static func write(
    _ tensors: [String: Tensor], dtype: SafetensorsDType = .float32, metadata: [String: String] = [:], to url: URL
  ) throws {
    guard [.float32, .float16, .bfloat16].contains(dtype) else {
      throw SafetensorsError.writeFailed(file: url.path, reason: "cannot store tensors as \(dtype.rawValue)")
    }
    guard tensors["__metadata__"] == nil else {
      throw SafetensorsError.writeFailed(file: url.path, reason: "'__metadata__' is reserved")
    }
    let names = tensors.keys.sorted()
    var header: [String: Any] = [:]
    var offset = 0
    for name in names {
      let tensor = tensors[name]!
      let byteCount = tensor.count * dtype.byteSize
      header[name] = ["dtype": dtype.rawValue, "shape": tensor.shape, "data_offsets": [offset, offset + byteCount]]
      offset += byteCount
    }
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var headerData: Data
    do { headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]) } catch {
      throw SafetensorsError.writeFailed(file: url.path, reason: "header encoding failed: \(error)")
    }
    while headerData.count % 8 != 0 { headerData.append(0x20) }
    var file = Data(capacity: 8 + headerData.count + offset)
    withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(headerData)
    for name in names {
      tensors[name]!.withUnsafeBufferPointer { values in
        switch dtype {
        case .float16:
          var bits = values.map { Float16($0).bitPattern.littleEndian }
          bits.withUnsafeMutableBytes { file.append(contentsOf: $0) }
        case .bfloat16:
          var bits = values.map { FloatConversion.bfloat16Bits($0).littleEndian }
          bits.withUnsafeMutableBytes { file.append(contentsOf: $0) }
        default:
          file.append(contentsOf: UnsafeRawBufferPointer(values))
        }
      }
    }
    do { try file.write(to: url, options: .atomic) } catch {
      throw SafetensorsError.writeFailed(file: url.path, reason: error.localizedDescription)
    }
  }
}
