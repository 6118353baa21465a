internal import CTensorKernels

/// A parameter kept in the precision its file stored it in: float32, or the raw bits of fp16 / bf16 weights
/// (half the memory), widened to float32 each time ``tensor`` is read.
///
/// Large networks keep their weights this way so a Stable Diffusion UNet with fp16 files holds 1.7 GB of
/// weights instead of 3.4 GB; each layer widens its weights for the duration of its forward call (F16C when
/// the CPU has it). A stored tensor created with ``zeros(shape:)`` allocates nothing until read or replaced.
public struct StoredTensor: Sendable {
  enum Storage: Sendable {
    case float(Tensor)
    case half([UInt16], dtype: SafetensorsDType)
    case zeros
  }

  /// The tensor's shape.
  public let shape: [Int]
  var storage: Storage

  /// Stores a float32 tensor as it is.
  public init(_ tensor: Tensor) {
    shape = tensor.shape
    storage = .float(tensor)
  }

  /// Stores fp16 or bf16 bit patterns (row-major) without widening them.
  /// - Precondition: `dtype` is `.float16` or `.bfloat16`, and `bits.count` equals the product of `shape`.
  public init(shape: [Int], halfPrecisionBits bits: [UInt16], dtype: SafetensorsDType) {
    precondition(dtype == .float16 || dtype == .bfloat16, "StoredTensor keeps only F16/BF16 bits, got \(dtype)")
    precondition(bits.count == shape.reduce(1, *), "shape \(shape) needs \(shape.reduce(1, *)) values, got \(bits.count)")
    self.shape = shape
    storage = .half(bits, dtype: dtype)
  }

  /// A zero tensor that allocates nothing until read.
  public static func zeros(shape: [Int]) -> StoredTensor { StoredTensor(shape: shape, storage: .zeros) }

  private init(shape: [Int], storage: Storage) {
    self.shape = shape
    self.storage = storage
  }

  /// The element type held: `.float32`, `.float16` or `.bfloat16`.
  public var dtype: SafetensorsDType {
    if case .half(_, let dtype) = storage { return dtype }
    return .float32
  }

  /// Bytes held in memory.
  public var byteCount: Int {
    switch storage {
    case .float(let tensor): tensor.count * 4
    case .half(let bits, _): bits.count * 2
    case .zeros: 0
    }
  }

  /// The values as float32 (widened on every read for half-precision storage).
  public var tensor: Tensor {
    switch storage {
    case .float(let tensor):
      return tensor
    case .zeros:
      return Tensor(shape: shape)
    case .half(let bits, let dtype):
      return Tensor(shape: shape) { out in
        bits.withUnsafeBufferPointer { source in
          let input = source.baseAddress!
          let output = out.baseAddress!
          parallelChunks(bits.count, costPerItem: 1, minimumWork: 1 << 16) { range in
            if dtype == .float16 {
              bld_convert_f16_f32(input + range.lowerBound, output + range.lowerBound, range.count)
            } else {
              bld_convert_bf16_f32(input + range.lowerBound, output + range.lowerBound, range.count)
            }
          }
        }
      }
    }
  }
}

extension SafetensorsFile {
  /// Reads a tensor keeping fp16 / bf16 data in its stored precision (see ``StoredTensor``); other dtypes
  /// are converted to float32.
  /// - Throws: `SafetensorsError.missingTensor` or `.unsupportedDType`.
  public func storedTensor(named name: String) throws -> StoredTensor {
    guard let entry = entries[name] else { throw SafetensorsError.missingTensor(file: url.path, tensor: name) }
    guard entry.dtype == .float16 || entry.dtype == .bfloat16 else { return StoredTensor(try tensor(named: name)) }
    let count = entry.shape.reduce(1, *)
    let bits = try withRawBytes(named: name) { raw in
      [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
        initialized = count
      }
    }
    releasePages(of: entry)
    return StoredTensor(shape: entry.shape, halfPrecisionBits: bits, dtype: entry.dtype)
  }
}
