/// Conversions between the stored element types of weight files and float32.
public enum FloatConversion {
  /// Converts `out.count` elements of `dtype` at `source` (little-endian, possibly unaligned) to float32.
  /// - Precondition: `dtype.isConvertibleToFloat`.
  public static func convert(_ source: UnsafeRawPointer, dtype: SafetensorsDType, into out: UnsafeMutableBufferPointer<Float>) {
    let count = out.count
    switch dtype {
    case .float32:
      UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: source, byteCount: count * 4)
    case .float16:
      for i in 0..<count { out[i] = Float(Float16(bitPattern: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
    case .bfloat16:
      for i in 0..<count {
        out[i] = Float(bitPattern: UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
      }
    case .float64:
      for i in 0..<count { out[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
    case .int64:
      for i in 0..<count { out[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
    case .int32:
      for i in 0..<count { out[i] = Float(source.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
    case .int16:
      for i in 0..<count { out[i] = Float(source.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
    case .int8:
      for i in 0..<count { out[i] = Float(source.loadUnaligned(fromByteOffset: i, as: Int8.self)) }
    case .uint8, .bool:
      for i in 0..<count { out[i] = Float(source.loadUnaligned(fromByteOffset: i, as: UInt8.self)) }
    case .float8E4M3, .float8E5M2:
      preconditionFailure("\(dtype) cannot be converted to float32")
    }
  }

  /// The bfloat16 bit pattern nearest to `value` (round to nearest even; NaN stays NaN).
  public static func bfloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(bits >> 16) | 0x40 }
    let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
    return UInt16((bits &+ rounding) >> 16)
  }
}
