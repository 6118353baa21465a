/// A parameter kept in the precision its file stored it in, widened to float32 each time it is read.
///
/// Large networks keep their weights this way: a Stable Diffusion UNet with fp16 files holds 1.7 GB of weights
/// instead of 3.4 GB, and with ``WeightResidency/mappedFile`` none of them stay resident between calls. Each
/// layer widens its weights for the duration of its forward call (F16C when the CPU has it). A stored tensor
/// created with ``zeros(shape:)`` allocates nothing until read or replaced.
///
/// A stored tensor may also carry low-rank updates (LoRA, ``adding(_:)``): each read then returns the stored
/// values plus `Σ scale · up · down`, while the stored values stay as they were (mapped pages stay mapped) and
/// only the small factors are held in memory.
public struct StoredTensor: Sendable {
  enum Storage: Sendable {
    case float(Tensor)
    case half([UInt16], dtype: SafetensorsDType)
    case mapped(SafetensorsFile, SafetensorsFile.Entry)
    case zeros
    /// The base storage (never itself `.lowRank`) plus updates added on every read.
    indirect case lowRank(base: Storage, updates: [LowRankUpdate])
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
    precondition(
      bits.count == shape.reduce(1, *), "shape \(shape) needs \(shape.reduce(1, *)) values, got \(bits.count)")
    self.shape = shape
    storage = .half(bits, dtype: dtype)
  }

  /// A zero tensor that allocates nothing until read.
  public static func zeros(shape: [Int]) -> StoredTensor { StoredTensor(shape: shape, storage: .zeros) }

  init(shape: [Int], storage: Storage) {
    self.shape = shape
    self.storage = storage
  }

  /// The element type held: `.float32`, `.float16` or `.bfloat16` (for a tensor with low-rank updates, that of
  /// its base values; the factors are float32).
  public var dtype: SafetensorsDType {
    switch storage {
    case .half(_, let dtype): dtype
    case .mapped(_, let entry): entry.dtype
    case .float, .zeros: .float32
    case .lowRank(let base, _): StoredTensor(shape: shape, storage: base).dtype
    }
  }

  /// Whether the values stay in a memory-mapped file between reads (``WeightResidency/mappedFile``); low-rank
  /// updates do not change it (their base values stay in the file).
  public var isMappedFromFile: Bool {
    switch storage {
    case .mapped: true
    case .lowRank(.mapped, _): true
    default: false
    }
  }

  /// Bytes held in the process's memory between reads (0 for zeros and for tensors left in their file), plus
  /// the factors of any low-rank updates.
  public var byteCount: Int {
    switch storage {
    case .float(let tensor): tensor.count * 4
    case .half(let bits, _): bits.count * 2
    case .mapped, .zeros: 0
    case .lowRank(let base, let updates):
      StoredTensor(shape: shape, storage: base).byteCount + updates.reduce(0) { $0 + $1.byteCount }
    }
  }

  /// The values as float32 (widened on every read for half-precision storage; read from the file, whose pages
  /// are then released, for mapped storage; with the low-rank updates added, one GEMM of rank `r` each).
  public var tensor: Tensor {
    switch storage {
    case .float(let tensor): return tensor
    case .zeros: return Tensor(shape: shape)
    case .lowRank(let base, let updates):
      var values = StoredTensor(shape: shape, storage: base).tensor
      values.withUnsafeMutableBufferPointer { buffer in
        for update in updates { update.accumulate(into: buffer) }
      }
      return values
    case .half, .mapped: break
    }
    let count = shape.reduce(1, *)
    guard count > 0 else { return Tensor(shape: shape) }
    return Tensor(shape: shape) { out in
      withStoredValues { values, dtype in
        FloatConversion.convert(
          values, dtype: dtype, into: UnsafeMutableBufferPointer(start: out.baseAddress, count: count))
      }
    }
  }

  /// Lets `body` change the values in place as float32; half-precision, mapped or zero storage is widened first
  /// and stays float32 afterwards (low-rank updates are folded into the float32 values and dropped). A float32 tensor not shared with another value is updated without a copy (an
  /// optimiser step on a training copy of a network).
  /// - Parameter body: receives the values and may change them, keeping the shape.
  public mutating func withMutableTensor(_ body: (inout Tensor) -> Void) {
    var values: Tensor
    if case .float(let stored) = storage { values = stored } else { values = tensor }
    storage = .zeros  // drop this storage's reference, so `values` is uniquely referenced if nothing else holds it
    body(&values)
    precondition(values.shape == shape, "StoredTensor.withMutableTensor: shape \(shape) became \(values.shape)")
    storage = .float(values)
  }

  /// Rows of a two-dimensional tensor as float32, widening only those rows (an embedding table lookup), with
  /// the same rows of any low-rank updates added.
  /// - Parameter indices: row indices.
  /// - Returns: `[indices.count, shape[1]]`.
  /// - Precondition: the tensor has two dimensions and every index is in `0..<shape[0]`.
  public func rows(_ indices: [Int]) -> Tensor {
    precondition(shape.count == 2, "rows(_:) needs a 2-D tensor, got shape \(shape)")
    let (rowCount, width) = (shape[0], shape[1])
    for index in indices {
      precondition(index >= 0 && index < rowCount, "row \(index) outside 0..<\(rowCount)")
    }
    if case .lowRank(let base, let updates) = storage {
      var values = StoredTensor(shape: shape, storage: base).rows(indices)
      values.withUnsafeMutableBufferPointer { buffer in
        for update in updates { update.accumulate(into: buffer, rows: indices) }
      }
      return values
    }
    if case .zeros = storage { return Tensor(shape: [indices.count, width]) }
    guard !indices.isEmpty, width > 0 else { return Tensor(shape: [indices.count, width]) }
    return Tensor(shape: [indices.count, width]) { out in
      withStoredValues { values, dtype in
        for (row, index) in indices.enumerated() {
          FloatConversion.convert(
            values + index * width * dtype.byteSize, dtype: dtype,
            into: UnsafeMutableBufferPointer(start: out.baseAddress! + row * width, count: width))
        }
      }
    }
  }

  /// Calls `body` with the values' bit patterns when they are stored at half width (IEEE half or bfloat16, in
  /// memory or mapped; mapped pages are released afterwards) and returns its result; nil for other storage
  /// (float32, zeros, low-rank updates), without calling `body`.
  package func withHalfPrecisionBits<R>(_ body: (UnsafePointer<UInt16>, _ isBFloat16: Bool) -> R) -> R? {
    switch storage {
    case .half(let bits, let dtype) where !bits.isEmpty:
      return bits.withUnsafeBufferPointer { body($0.baseAddress!, dtype == .bfloat16) }
    case .mapped(let file, let entry) where entry.dtype == .float16 || entry.dtype == .bfloat16:
      guard shape.reduce(1, *) > 0 else { return nil }
      defer { file.releasePages(of: entry) }
      return body(file.dataAddress(of: entry).assumingMemoryBound(to: UInt16.self), entry.dtype == .bfloat16)
    default:
      return nil
    }
  }

  /// Calls `body` with the stored values and their element type; mapped pages are released afterwards.
  /// - Precondition: the storage is not `.zeros` or `.lowRank` (callers answer those without reading).
  private func withStoredValues(_ body: (UnsafeRawPointer, SafetensorsDType) -> Void) {
    switch storage {
    case .float(let tensor):
      tensor.withUnsafeBufferPointer { body(UnsafeRawPointer($0.baseAddress!), .float32) }
    case .half(let bits, let dtype):
      bits.withUnsafeBufferPointer { body(UnsafeRawPointer($0.baseAddress!), dtype) }
    case .mapped(let file, let entry):
      body(file.dataAddress(of: entry), entry.dtype)
      file.releasePages(of: entry)
    case .zeros, .lowRank:
      preconditionFailure("zeros and low-rank updates are answered without reading storage")
    }
  }
}

extension SafetensorsFile {
  /// Reads a tensor for use as a network weight, as `residency` says: copied into memory (fp16 / bf16 kept
  /// at half width, other dtypes converted to float32) or left in this file's mapping (F32, F16 and BF16;
  /// other dtypes are copied). A mapped tensor keeps this file open.
  /// - Throws: `SafetensorsError.missingTensor` or `.unsupportedDType`.
  public func storedTensor(named name: String, residency: WeightResidency = .memory) throws -> StoredTensor {
    guard let entry = entries[name] else { throw SafetensorsError.missingTensor(file: url.path, tensor: name) }
    return try storedTensor(entry, named: name, residency: residency)
  }

  /// Reads the values an entry (or a view of one, see ``Entry/rows(_:)``) describes, as
  /// ``storedTensor(named:residency:)`` does.
  /// - Parameters:
  ///   - entry: an entry of this file, or a view of one.
  ///   - name: the tensor's name, for errors.
  ///   - residency: copied into memory, or left in the mapping.
  /// - Throws: `SafetensorsError.unsupportedDType` for a dtype that does not convert to float.
  public func storedTensor(_ entry: Entry, named name: String, residency: WeightResidency) throws -> StoredTensor {
    let keepsDType = [.float32, .float16, .bfloat16].contains(entry.dtype)
    if residency == .mappedFile && keepsDType { return StoredTensor(shape: entry.shape, storage: .mapped(self, entry)) }
    guard entry.dtype == .float16 || entry.dtype == .bfloat16 else {
      return StoredTensor(try tensor(entry, named: name))
    }
    let count = entry.shape.reduce(1, *)
    let source = dataAddress(of: entry)
    let bits = [UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
      UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(start: source, count: count * 2))
      initialized = count
    }
    releasePages(of: entry)
    return StoredTensor(shape: entry.shape, halfPrecisionBits: bits, dtype: entry.dtype)
  }
}
