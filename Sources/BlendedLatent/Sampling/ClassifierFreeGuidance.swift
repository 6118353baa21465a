import TensorCore

/// Classifier-free guidance: `ε̂ = u + g (c − u)` from one model call on the batch of `2B`
/// (unconditional rows first, conditional rows second).
public struct ClassifierFreeGuidance: Sendable {
  /// The conditioning passed to the model, `[2B, 77, D]`: B unconditional rows, then B conditional rows.
  public let conditioning: Tensor
  /// The guidance scale g.
  public let scale: Float

  /// Builds the doubled conditioning.
  /// - Parameters:
  ///   - unconditional: The negative-prompt embeddings `[1 or B, 77, D]`.
  ///   - conditional: The prompt embeddings `[1 or B, 77, D]`.
  ///   - batchSize: B; single rows are repeated B times.
  ///   - scale: g.
  public init(unconditional: Tensor, conditional: Tensor, batchSize: Int, scale: Float) {
    precondition(unconditional.rank == 3 && conditional.rank == 3, "conditioning must be [N, 77, D]")
    precondition(batchSize >= 1, "batch size \(batchSize)")
    func repeated(_ rows: Tensor) -> Tensor {
      if rows.shape[0] == batchSize { return rows }
      precondition(rows.shape[0] == 1, "conditioning has \(rows.shape[0]) rows for batch \(batchSize)")
      return Tensor.concatenated(Array(repeating: rows, count: batchSize), axis: 0)
    }
    conditioning = Tensor.concatenated([repeated(unconditional), repeated(conditional)], axis: 0)
    self.scale = scale
  }

  /// Combines the model output on the doubled batch.
  /// - Parameter output: `[2B, C, h, w]`.
  /// - Returns: `u + g (c − u)`, `[B, C, h, w]`.
  public func guided(_ output: Tensor) -> Tensor {
    let halves = output.chunked(2, axis: 0)
    let g = scale
    return Tensor.zipped(halves[0], halves[1]) { u, c in u + g * (c - u) }
  }
}
