/// The element types of the safetensors format.
public enum SafetensorsDType: String, Sendable, CaseIterable, Codable {
  /// 64-bit float.
  case float64 = "F64"
  /// 32-bit float.
  case float32 = "F32"
  /// IEEE half precision.
  case float16 = "F16"
  /// bfloat16 (the upper half of a float32).
  case bfloat16 = "BF16"
  /// 64-bit signed integer.
  case int64 = "I64"
  /// 32-bit signed integer.
  case int32 = "I32"
  /// 16-bit signed integer.
  case int16 = "I16"
  /// 8-bit signed integer.
  case int8 = "I8"
  /// 8-bit unsigned integer.
  case uint8 = "U8"
  /// Boolean stored as one byte.
  case bool = "BOOL"
  /// 8-bit float, E4M3 (not convertible here).
  case float8E4M3 = "F8_E4M3"
  /// 8-bit float, E5M2 (not convertible here).
  case float8E5M2 = "F8_E5M2"

  /// Bytes per element.
  public var byteSize: Int {
    switch self {
    case .float64, .int64: 8
    case .float32, .int32: 4
    case .float16, .bfloat16, .int16: 2
    case .int8, .uint8, .bool, .float8E4M3, .float8E5M2: 1
    }
  }

  /// Whether `SafetensorsFile.tensor(named:)` can convert this dtype to float32.
  public var isConvertibleToFloat: Bool { self != .float8E4M3 && self != .float8E5M2 }
}
