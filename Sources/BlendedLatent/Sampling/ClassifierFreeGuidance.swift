import TensorCore

/// Classifier-free guidance: `ε̂ = u + g (c − u)` from one model call on the batch of `2B`
/// (unconditional rows first, conditional rows second).
///
/// As diffusers' pipelines (`do_classifier_free_guidance = guidance_scale > 1`), a scale g ≤ 1 switches
/// guidance off: the model sees only the B conditional rows (half the UNet work) and its output is used as is.
/// So g = 1 gives the conditional prediction `c` exactly (not `u + 1 · (c − u)` rounded), and g < 1 is not an
/// interpolation towards the unconditional prediction.
public struct ClassifierFreeGuidance: Sendable {
  /// The conditioning passed to the model: `[2B, 77, D]` (B unconditional rows, then B conditional rows) when
  /// guidance is on, `[B, 77, D]` (the conditional rows) when it is off.
  public let conditioning: Tensor
  /// The guidance scale g.
  public let scale: Float
  /// The number of results B.
  public let batchSize: Int

  /// Builds the (doubled, when guidance is on) conditioning.
  /// - Parameters:
  ///   - unconditional: The negative-prompt embeddings `[1 or B, 77, D]` (unused when `scale ≤ 1`).
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
    conditioning =
      scale > 1
      ? Tensor.concatenated([repeated(unconditional), repeated(conditional)], axis: 0) : repeated(conditional)
    self.scale = scale
    self.batchSize = batchSize
  }

  /// Whether the model runs on the doubled batch (g > 1, diffusers' `do_classifier_free_guidance`).
  public var isEnabled: Bool { scale > 1 }

  /// The rows per model call: 2B with guidance, B without.
  public var modelBatchSize: Int { isEnabled ? 2 * batchSize : batchSize }

  /// The model input for latents `[B, C, h, w]`: the latents twice (`[2B, C, h, w]`) with guidance, else as is.
  /// - Parameter latents: The (scaled) model input of the B results.
  public func modelInput(_ latents: Tensor) -> Tensor {
    isEnabled ? Tensor.concatenated([latents, latents], axis: 0) : latents
  }

  /// Combines the model output.
  /// - Parameter output: `[2B, C, h, w]` with guidance, `[B, C, h, w]` without.
  /// - Returns: `u + g (c − u)` with guidance, else `output` itself; `[B, C, h, w]`.
  public func guided(_ output: Tensor) -> Tensor {
    guard isEnabled else { return output }
    let halves = output.chunked(2, axis: 0)
    let g = scale
    return Tensor.zipped(halves[0], halves[1]) { u, c in u + g * (c - u) }
  }
}
