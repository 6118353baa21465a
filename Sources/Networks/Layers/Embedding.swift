import TensorCore

/// A lookup table (PyTorch `nn.Embedding`).
///
/// Checkpoint key: `weight` `[count, width]`.
public final class Embedding: Layer {
  /// `[count, width]`, in the precision it was loaded in; a lookup widens only the rows it reads.
  public var storedWeight: StoredTensor
  /// `[count, width]` as float32 (widened on read; setting stores float32).
  public var weight: Tensor {
    get { storedWeight.tensor }
    set { storedWeight = StoredTensor(newValue) }
  }

  /// Creates a zero table of `count` rows of `width` values.
  public init(count: Int, width: Int) {
    storedWeight = .zeros(shape: [count, width])
  }

  /// Registers `weight`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.tensor("weight", of: self, \.storedWeight)
  }

  /// The number of rows.
  public var count: Int { storedWeight.shape[0] }

  /// Rows of the table: `indices` `B × T` (all rows the same length) → `[B, T, width]`.
  /// - Precondition: every index is in `0..<count`.
  public func callAsFunction(_ indices: [[Int]]) -> Tensor {
    let length = indices.first?.count ?? 0
    precondition(indices.allSatisfy { $0.count == length }, "Embedding: rows of different lengths")
    return storedWeight.rows(Array(indices.joined())).reshaped([indices.count, length, storedWeight.shape[1]])
  }
}
