import TensorCore

/// A lookup table (PyTorch `nn.Embedding`).
///
/// Checkpoint key: `weight` `[count, width]`.
public final class Embedding: Layer {
  /// `[count, width]`.
  public var weight: Tensor

  /// Creates a zero table of `count` rows of `width` values.
  public init(count: Int, width: Int) {
    weight = Tensor(shape: [count, width])
  }

  /// Registers `weight`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.tensor("weight", of: self, \.weight)
  }

  /// The number of rows.
  public var count: Int { weight.shape[0] }

  /// Rows of the table: `indices` `B × T` (all rows the same length) → `[B, T, width]`.
  /// - Precondition: every index is in `0..<count`.
  public func callAsFunction(_ indices: [[Int]]) -> Tensor {
    let width = weight.shape[1]
    let rows = count
    let length = indices.first?.count ?? 0
    precondition(indices.allSatisfy { $0.count == length }, "Embedding: rows of different lengths")
    return Tensor(shape: [indices.count, length, width]) { out in
      weight.withUnsafeBufferPointer { table in
        for (b, row) in indices.enumerated() {
          for (t, index) in row.enumerated() {
            precondition(
              index >= 0 && index < rows, "Embedding: index \(index) outside 0..<\(rows)")
            (out.baseAddress! + (b * length + t) * width).update(
              from: table.baseAddress! + index * width, count: width)
          }
        }
      }
    }
  }
}
