extension Tensor {
  /// The broadcast shape of two shapes under NumPy rules, or nil if they are incompatible.
  public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for axis in 0..<rank {
      let x = axis < rank - a.count ? 1 : a[axis - (rank - a.count)]
      let y = axis < rank - b.count ? 1 : b[axis - (rank - b.count)]
      if x != y && x != 1 && y != 1 { return nil }
      result[axis] = x == 1 ? y : x
    }
    return result
  }

  /// Applies `operation` element-wise with NumPy broadcasting.
  public static func elementwise(_ a: Tensor, _ b: Tensor, _ operation: (Float, Float) -> Float) -> Tensor {
    if a.shape == b.shape {
      return Tensor(shape: a.shape) { out in
        a.withUnsafeBufferPointer { x in
          b.withUnsafeBufferPointer { y in
            for i in 0..<out.count { out[i] = operation(x[i], y[i]) }
          }
        }
      }
    }
    guard let shape = broadcastShape(a.shape, b.shape) else {
      preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let rank = shape.count
    func strides(of tensorShape: [Int]) -> [Int] {
      let padded = [Int](repeating: 1, count: rank - tensorShape.count) + tensorShape
      var result = [Int](repeating: 0, count: rank)
      var running = 1
      for axis in stride(from: rank - 1, through: 0, by: -1) {
        result[axis] = padded[axis] == 1 ? 0 : running
        running *= padded[axis]
      }
      return result
    }
    let stridesA = strides(of: a.shape)
    let stridesB = strides(of: b.shape)
    let inner = shape.last ?? 1
    let innerA = stridesA.last ?? 0
    let innerB = stridesB.last ?? 0
    return Tensor(shape: shape) { out in
      a.withUnsafeBufferPointer { x in
        b.withUnsafeBufferPointer { y in
          var index = [Int](repeating: 0, count: max(rank - 1, 0))
          let outer = inner == 0 ? 0 : out.count / inner
          for row in 0..<outer {
            var offsetA = 0
            var offsetB = 0
            for axis in 0..<(rank - 1) {
              offsetA += index[axis] * stridesA[axis]
              offsetB += index[axis] * stridesB[axis]
            }
            let base = row * inner
            for i in 0..<inner { out[base + i] = operation(x[offsetA + i * innerA], y[offsetB + i * innerB]) }
            var axis = rank - 2
            while axis >= 0 {
              index[axis] += 1
              if index[axis] < shape[axis] { break }
              index[axis] = 0
              axis -= 1
            }
          }
        }
      }
    }
  }

  /// Applies `transform` to every element.
  public func map(_ transform: (Float) -> Float) -> Tensor {
    Tensor(shape: shape, scalars: scalars.map(transform))
  }

  /// Element-wise sum with broadcasting.
  public static func + (a: Tensor, b: Tensor) -> Tensor { elementwise(a, b, +) }
  /// Element-wise difference with broadcasting.
  public static func - (a: Tensor, b: Tensor) -> Tensor { elementwise(a, b, -) }
  /// Element-wise product with broadcasting.
  public static func * (a: Tensor, b: Tensor) -> Tensor { elementwise(a, b, *) }
  /// Element-wise quotient with broadcasting.
  public static func / (a: Tensor, b: Tensor) -> Tensor { elementwise(a, b, /) }
  /// Every element multiplied by a scalar.
  public static func * (a: Tensor, scale: Float) -> Tensor { a.map { $0 * scale } }
  /// Every element multiplied by a scalar.
  public static func * (scale: Float, a: Tensor) -> Tensor { a.map { $0 * scale } }
  /// A scalar added to every element.
  public static func + (a: Tensor, offset: Float) -> Tensor { a.map { $0 + offset } }
  /// Every element negated.
  public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }

  /// Adds `other × scale` into `self` in place (`other` must have the same shape).
  public mutating func add(_ other: Tensor, scaledBy scale: Float = 1) {
    precondition(other.shape == shape, "add: \(other.shape) vs \(shape)")
    withUnsafeMutableBufferPointer { out in
      other.withUnsafeBufferPointer { x in
        for i in 0..<out.count { out[i] += scale * x[i] }
      }
    }
  }

  /// `a × self + b × other`, element-wise, same shape (the blend and noising primitive).
  public func linearCombination(_ a: Float, _ b: Float, _ other: Tensor) -> Tensor {
    precondition(other.shape == shape, "linearCombination: \(other.shape) vs \(shape)")
    return Tensor(shape: shape) { out in
      withUnsafeBufferPointer { x in
        other.withUnsafeBufferPointer { y in
          for i in 0..<out.count { out[i] = a * x[i] + b * y[i] }
        }
      }
    }
  }

  /// Every element clamped into `range`.
  public func clamped(to range: ClosedRange<Float>) -> Tensor {
    map { Swift.min(Swift.max($0, range.lowerBound), range.upperBound) }
  }

  /// The sum of all elements, accumulated in double precision.
  public func sum() -> Double { scalars.reduce(0.0) { $0 + Double($1) } }
}
