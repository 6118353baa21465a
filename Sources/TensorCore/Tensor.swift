/// A dense, contiguous float32 tensor with value semantics.
///
/// Layout is row-major (the last axis varies fastest), so image tensors are NCHW exactly as in PyTorch
/// and reference tensors and checkpoint weights need no transposes. Storage is a Swift array, so copies
/// are copy-on-write and `Tensor` is `Sendable`.
public struct Tensor: Sendable, Equatable {
  /// The extent of each axis, outermost first (`[N, C, H, W]` for images).
  public internal(set) var shape: [Int]
  /// The elements in row-major order; `scalars.count == shape.reduce(1, *)`.
  public internal(set) var scalars: [Float]

  /// Creates a tensor from its elements in row-major order.
  /// - Precondition: `scalars.count` equals the product of `shape`, and no extent is negative.
  public init(shape: [Int], scalars: [Float]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
    precondition(
      scalars.count == shape.reduce(1, *),
      "shape \(shape) needs \(shape.reduce(1, *)) elements, got \(scalars.count)")
    self.shape = shape
    self.scalars = scalars
  }

  /// Creates a tensor with every element equal to `value`.
  public init(shape: [Int], repeating value: Float = 0) {
    self.init(shape: shape) { $0.initialize(repeating: value) }
  }

  /// Creates a tensor whose elements are written by `initializer` into uninitialised storage.
  /// The closure must write every element of the buffer it is given.
  /// - Precondition: no extent is negative.
  public init(shape: [Int], unsafeUninitialized initializer: (UnsafeMutableBufferPointer<Float>) throws -> Void)
    rethrows
  {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
    let count = shape.reduce(1, *)
    let scalars = try [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      AllocatorTuning.adviseHugePages(UnsafeMutableRawBufferPointer(buffer))  // before the first write
      try initializer(buffer)
      initialized = count
    }
    self.init(shape: shape, scalars: scalars)
  }

  /// A rank-0 tensor holding one value.
  public init(_ value: Float) { self.init(shape: [], scalars: [value]) }

  /// The number of axes.
  public var rank: Int { shape.count }
  /// The number of elements.
  public var count: Int { scalars.count }

  /// Calls `body` with the elements in row-major order.
  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    try scalars.withUnsafeBufferPointer(body)
  }

  /// Calls `body` with mutable access to the elements in row-major order (copying first if shared).
  public mutating func withUnsafeMutableBufferPointer<R>(
    _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    try scalars.withUnsafeMutableBufferPointer(body)
  }

  /// The element at a multi-index, for tests and small tensors.
  public subscript(_ indices: Int...) -> Float {
    get { scalars[flatIndex(indices)] }
    set { scalars[flatIndex(indices)] = newValue }
  }

  private func flatIndex(_ indices: [Int]) -> Int {
    precondition(indices.count == rank, "index \(indices) has rank \(indices.count), tensor has \(rank)")
    var flat = 0
    for (index, extent) in zip(indices, shape) {
      precondition(index >= 0 && index < extent, "index \(indices) out of bounds for \(shape)")
      flat = flat * extent + index
    }
    return flat
  }

  /// Whether every element is finite (no NaN, no infinity).
  public var isFinite: Bool { scalars.allSatisfy { $0.isFinite } }
}

extension Tensor: CustomStringConvertible {
  /// The shape and the first few elements.
  public var description: String {
    let head = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
    return "Tensor(shape: \(shape), [\(head)\(count > 8 ? ", …" : "")])"
  }
}
