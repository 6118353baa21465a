internal import CTensorKernels

/// Conversions between the stored element types of weight files and float32.
package enum FloatConversion {
  /// Converts `out.count` elements of `dtype` at `source` (little-endian, possibly unaligned) to float32.
  ///
  /// Large F32 / F16 / BF16 arrays are converted by all compute threads (F16C for fp16 when the CPU has it),
  /// which also spreads the page faults of a memory-mapped source over the threads.
  /// - Precondition: `dtype.isConvertibleToFloat`; not called from inside a parallel region.
  package static func convert(
    _ source: UnsafeRawPointer, dtype: SafetensorsDType, into out: UnsafeMutableBufferPointer<Float>
  ) {
    let count = out.count
    guard count > 0 else { return }
    let output = out.baseAddress!
    switch dtype {
    case .float32:
      parallelChunks(count, minimumWork: 1 << 18) { range in
        UnsafeMutableRawPointer(output + range.lowerBound).copyMemory(
          from: source + 4 * range.lowerBound, byteCount: 4 * range.count)
      }
    case .float16, .bfloat16:
      guard Int(bitPattern: source) % 2 == 0 else {
        for i in 0..<count {
          output[i] = halfToFloat(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self), dtype: dtype)
        }
        return
      }
      let input = source.assumingMemoryBound(to: UInt16.self)
      parallelChunks(count, minimumWork: 1 << 16) { range in
        if dtype == .float16 {
          bld_convert_f16_f32(input + range.lowerBound, output + range.lowerBound, range.count)
        } else {
          bld_convert_bf16_f32(input + range.lowerBound, output + range.lowerBound, range.count)
        }
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

  private static func halfToFloat(_ bits: UInt16, dtype: SafetensorsDType) -> Float {
    dtype == .float16 ? Float(Float16(bitPattern: bits)) : Float(bitPattern: UInt32(bits) << 16)
  }

  /// The bfloat16 bit pattern nearest to `value` (round to nearest even; NaN stays NaN).
  package static func bfloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(bits >> 16) | 0x40 }
    let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
    return UInt16((bits &+ rounding) >> 16)
  }
}
