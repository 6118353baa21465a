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

  /// Applies `operation` element-wise with NumPy broadcasting (on the calling thread: `operation` may not be safe
  /// to run concurrently).
  public static func elementwise(_ a: Tensor, _ b: Tensor, _ operation: (Float, Float) -> Float) -> Tensor {
    withoutActuallyEscaping(operation) { operation in
      broadcasting(a, b, ClosureOperation(body: operation), inParallel: false)
    }
  }

  /// `a op b` with NumPy broadcasting: rows of the innermost axis, each a contiguous run of the output read
  /// from runs (or a repeated element) of the operands; split across threads when `inParallel`. Specialised per
  /// operation type, so the built-in operators compile to vector loops.
  private static func broadcasting<Operation: ElementwiseOperation>(
    _ a: Tensor, _ b: Tensor, _ operation: Operation, inParallel: Bool
  ) -> Tensor {
    guard let shape = broadcastShape(a.shape, b.shape) else {
      preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    if shape.contains(0) { return Tensor(shape: shape) }
    func strides(of tensorShape: [Int]) -> [Int] {
      let rank = shape.count
      let padded = [Int](repeating: 1, count: rank - tensorShape.count) + tensorShape
      var result = [Int](repeating: 0, count: rank)
      var running = 1
      for axis in stride(from: rank - 1, through: 0, by: -1) {
        result[axis] = padded[axis] == 1 ? 0 : running
        running *= padded[axis]
      }
      return result
    }
    if a.shape == b.shape {
      return Tensor(shape: shape) { out in
        a.withUnsafeBufferPointer { x in
          b.withUnsafeBufferPointer { y in
            let (x, y, out) = (x.baseAddress!, y.baseAddress!, out.baseAddress!)
            func run(_ range: Range<Int>) { for i in range { out[i] = operation.apply(x[i], y[i]) } }
            if inParallel {
              parallelChunks(a.count, minimumWork: 1 << 16) { range in run(range) }
            } else {
              run(0..<a.count)
            }
          }
        }
      }
    }
    let (stridesA, stridesB) = (strides(of: a.shape), strides(of: b.shape))
    let inner = shape.last ?? 1
    let (innerA, innerB) = (stridesA.last ?? 0, stridesB.last ?? 0)
    let outer = inner == 0 ? 0 : shape.reduce(1, *) / inner
    return Tensor(shape: shape) { out in
      a.withUnsafeBufferPointer { x in
        b.withUnsafeBufferPointer { y in
          let (x, y, out) = (x.baseAddress!, y.baseAddress!, out.baseAddress!)
          /// Output rows `rows`: the operands' offsets from each row's multi-index over the outer axes.
          func run(_ rows: Range<Int>) {
            for row in rows {
              var (offsetA, offsetB, remainder) = (0, 0, row)
              for axis in stride(from: shape.count - 2, through: 0, by: -1) {
                let (quotient, index) = remainder.quotientAndRemainder(dividingBy: shape[axis])
                offsetA += index * stridesA[axis]
                offsetB += index * stridesB[axis]
                remainder = quotient
              }
              let (p, q, o) = (x + offsetA, y + offsetB, out + row * inner)
              switch (innerA, innerB) {
              case (1, 1): for i in 0..<inner { o[i] = operation.apply(p[i], q[i]) }
              case (1, 0): for i in 0..<inner { o[i] = operation.apply(p[i], q[0]) }
              case (0, 1): for i in 0..<inner { o[i] = operation.apply(p[0], q[i]) }
              default: for i in 0..<inner { o[i] = operation.apply(p[i * innerA], q[i * innerB]) }
              }
            }
          }
          if inParallel {
            parallelChunks(outer, costPerItem: inner, minimumWork: 1 << 16) { rows in run(rows) }
          } else {
            run(0..<outer)
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
  public static func + (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, Sum(), inParallel: true) }
  /// Element-wise difference with broadcasting.
  public static func - (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, Difference(), inParallel: true) }
  /// Element-wise product with broadcasting.
  public static func * (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, Product(), inParallel: true) }
  /// Element-wise quotient with broadcasting.
  public static func / (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, Quotient(), inParallel: true) }
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
    guard count > 0 else { return }
    withUnsafeMutableBufferPointer { out in
      other.withUnsafeBufferPointer { x in
        let (total, out, x) = (out.count, out.baseAddress!, x.baseAddress!)
        parallelChunks(total, minimumWork: 1 << 16) { range in
          for i in range { out[i] += scale * x[i] }
        }
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

/// One binary operation of `Tensor`'s broadcasting arithmetic; a concrete type per operator lets the compiler
/// specialise the loops for it.
private protocol ElementwiseOperation {
  func apply(_ x: Float, _ y: Float) -> Float
}

private struct Sum: ElementwiseOperation {
  func apply(_ x: Float, _ y: Float) -> Float { x + y }
}

private struct Difference: ElementwiseOperation {
  func apply(_ x: Float, _ y: Float) -> Float { x - y }
}

private struct Product: ElementwiseOperation {
  func apply(_ x: Float, _ y: Float) -> Float { x * y }
}

private struct Quotient: ElementwiseOperation {
  func apply(_ x: Float, _ y: Float) -> Float { x / y }
}

/// A caller's closure as an operation (`Tensor.elementwise`).
private struct ClosureOperation: ElementwiseOperation {
  let body: (Float, Float) -> Float
  func apply(_ x: Float, _ y: Float) -> Float { body(x, y) }
}
