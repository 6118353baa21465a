extension Tensor {
  /// The same elements viewed with another shape. One extent may be `-1` and is inferred.
  /// - Precondition: the element count is unchanged.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    var resolved = newShape
    if let inferred = newShape.firstIndex(of: -1) {
      let known = newShape.enumerated().filter { $0.offset != inferred }.reduce(1) { $0 * $1.element }
      precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
      resolved[inferred] = count / known
    }
    precondition(resolved.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
    var copy = self
    copy.shape = resolved
    return copy
  }

  /// The axes reordered: axis `i` of the result is axis `permutation[i]` of `self`.
  public func permuted(_ permutation: [Int]) -> Tensor {
    precondition(permutation.sorted() == Array(0..<rank), "\(permutation) is not a permutation of \(rank) axes")
    if permutation == Array(0..<rank) { return self }
    let newShape = permutation.map { shape[$0] }
    var sourceStrides = [Int](repeating: 1, count: rank)
    for axis in stride(from: rank - 2, through: 0, by: -1) {
      sourceStrides[axis] = sourceStrides[axis + 1] * shape[axis + 1]
    }
    let strides = permutation.map { sourceStrides[$0] }
    // Collapse to [outer..., inner] loops: the innermost output axis is copied in a tight strided loop.
    return Tensor(shape: newShape) { out in
      scalars.withUnsafeBufferPointer { src in
        let innerCount = newShape.last ?? 1
        let innerStride = strides.last ?? 1
        let outerCount = innerCount == 0 ? 0 : count / innerCount
        let outerShape = Array(newShape.dropLast())
        let outerStrides = Array(strides.dropLast())
        parallelChunks(outerCount, costPerItem: innerCount) { range in
          var index = [Int](repeating: 0, count: outerShape.count)
          var remainder = range.lowerBound
          for axis in stride(from: outerShape.count - 1, through: 0, by: -1) {
            index[axis] = remainder % outerShape[axis]
            remainder /= outerShape[axis]
          }
          for outer in range {
            var base = 0
            for axis in 0..<outerShape.count { base += index[axis] * outerStrides[axis] }
            let destination = outer * innerCount
            for inner in 0..<innerCount { out[destination + inner] = src[base + inner * innerStride] }
            var axis = outerShape.count - 1
            while axis >= 0 {
              index[axis] += 1
              if index[axis] < outerShape[axis] { break }
              index[axis] = 0
              axis -= 1
            }
          }
        }
      }
    }
  }

  /// The last two axes swapped.
  public func transposedLastTwo() -> Tensor {
    precondition(rank >= 2, "transposedLastTwo needs rank ≥ 2, got \(shape)")
    var permutation = Array(0..<rank)
    permutation.swapAt(rank - 1, rank - 2)
    return permuted(permutation)
  }

  /// Tensors joined along `axis`; all other extents must agree.
  public static func concatenated(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concatenated needs at least one tensor")
    let first = tensors[0]
    for tensor in tensors {
      precondition(
        tensor.rank == first.rank
          && (0..<first.rank).allSatisfy { $0 == axis || tensor.shape[$0] == first.shape[$0] },
        "cannot concatenate \(tensor.shape) with \(first.shape) along axis \(axis)")
    }
    var newShape = first.shape
    newShape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
    let outer = first.shape[..<axis].reduce(1, *)
    let inner = first.shape[(axis + 1)...].reduce(1, *)
    return Tensor(shape: newShape) { out in
      var offset = 0
      let rowLength = newShape[axis] * inner
      for tensor in tensors {
        let block = tensor.shape[axis] * inner
        tensor.withUnsafeBufferPointer { src in
          for o in 0..<outer {
            (out.baseAddress! + o * rowLength + offset).update(from: src.baseAddress! + o * block, count: block)
          }
        }
        offset += block
      }
    }
  }

  /// The sub-tensor with indices `range` along `axis`.
  public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
    precondition(
      axis >= 0 && axis < rank && range.lowerBound >= 0 && range.upperBound <= shape[axis],
      "slice \(range) on axis \(axis) out of bounds for \(shape)")
    var newShape = shape
    newShape[axis] = range.count
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    return Tensor(shape: newShape) { out in
      withUnsafeBufferPointer { src in
        let block = range.count * inner
        for o in 0..<outer {
          (out.baseAddress! + o * block).update(
            from: src.baseAddress! + (o * shape[axis] + range.lowerBound) * inner, count: block)
        }
      }
    }
  }

  /// `parts` equal pieces along `axis` (PyTorch's `chunk`).
  public func chunked(_ parts: Int, axis: Int) -> [Tensor] {
    precondition(parts > 0 && shape[axis] % parts == 0, "cannot split \(shape) into \(parts) along \(axis)")
    let size = shape[axis] / parts
    return (0..<parts).map { sliced(axis: axis, $0 * size..<($0 + 1) * size) }
  }
}
