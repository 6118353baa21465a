import TensorCore

extension Attention: DifferentiableBlock {
  /// What the backward pass of the spatial form needs beyond its input.
  public struct Activations {
    /// The statistics `group_norm` used, or nil without a group norm.
    public let norm: GroupNormStatistics?
    /// The (group-normed) input as a sequence, `[N, T, C]` with `T = H·W`.
    public let tokens: Tensor
    /// `Q`, `[N, T, inner]`.
    public let query: Tensor
    /// `K`, `[N, T, inner]`.
    public let key: Tensor
    /// `V`, `[N, T, inner]`.
    public let value: Tensor
    /// `softmax(QKᵀ/√d)·V` per head, `[N, T, inner]`.
    public let attended: Tensor
    /// `softmax(QKᵀ/√d)`, `[N·heads, T, T]`, kept for the backward pass when `keepsProbabilities(forInput:)`;
    /// otherwise nil and the backward pass recomputes it tile by tile.
    public let probabilities: Tensor?
  }

  /// The training forward of the spatial form (`callAsFunction(spatial:)`, the VAE mid block's attention) up to
  /// the output projection.
  /// - Parameters:
  ///   - input: `[N, C, H, W]`.
  ///   - frozen: group-norm statistics to use instead of the input's own.
  public func activations(of input: Tensor, frozen: FrozenGroupNormStatistics) -> Activations {
    precondition(input.rank == 4, "Attention trains in the spatial form, [N, C, H, W], got \(input.shape)")
    let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let statistics = groupNorm.map { $0.statistics(of: input, frozen: frozen) }
    let normalized = groupNorm.map { $0(input, statistics: statistics!) } ?? input
    let tokens = normalized.reshaped([batch, channels, height * width]).permuted([0, 2, 1])  // [N, T, C]
    let (q, k, v) = (query(tokens), key(tokens), value(tokens))
    guard keepsProbabilities(forInput: input.shape) else {
      let attended = scaledDotProductAttention(query: q, key: k, value: v, headCount: headCount)
      return Activations(
        norm: statistics, tokens: tokens, query: q, key: k, value: v, attended: attended, probabilities: nil)
    }
    let (attended, probabilities) = scaledDotProductAttentionKeepingProbabilities(
      query: q, key: k, value: v, headCount: headCount)
    return Activations(
      norm: statistics, tokens: tokens, query: q, key: k, value: v, attended: attended, probabilities: probabilities)
  }

  /// The most attention probabilities (`N·heads·T²` floats, 128 MiB) the training forward keeps for the backward
  /// pass, which then skips recomputing `QKᵀ` and its softmax (a fifth of its products).
  static let keptProbabilitiesLimit = 1 << 25

  /// Whether the training forward on an `inputShape` input keeps the attention probabilities: heads wider than
  /// `attentionFusedHeadWidthLimit` (whose forward is the GEMM path that computes them anyway, so the output is
  /// bit for bit the same; the VAE's single 512-wide head) and at most `keptProbabilitiesLimit` of them (the VAE's
  /// 64×64 latent at 512×512: 16.8 M).
  func keepsProbabilities(forInput inputShape: [Int]) -> Bool {
    let (batch, positions) = (inputShape[0], inputShape[2] * inputShape[3])
    let headWidth = query.storedWeight.shape[0] / headCount
    return headWidth > attentionFusedHeadWidthLimit
      && batch * headCount * positions * positions <= Self.keptProbabilitiesLimit
  }

  /// The rest of the training forward: `to_out.0`, back to `[N, C, H, W]`, plus the input (residual).
  public func output(from activations: Activations, input: Tensor) -> Tensor {
    var result = output(activations.attended).permuted([0, 2, 1]).reshaped(input.shape)  // [N, C, H, W]
    result.add(input)
    return result
  }

  /// The backward pass of the spatial form: through `to_out.0`, the attention, `to_q`/`to_k`/`to_v`, the group
  /// norm and the residual.
  public func backward(
    _ activations: Activations, input: Tensor, outputGradient: Tensor, frozen: FrozenGroupNormStatistics,
    needsInputGradient: Bool, gradients: inout ParameterGradients
  ) -> Tensor? {
    let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let dOutput = outputGradient.reshaped([batch, channels, height * width]).permuted([0, 2, 1])  // [N, T, C]
    let dAttended = output.backward(outputGradient: dOutput, input: activations.attended, gradients: &gradients)
    let attention = scaledDotProductAttentionBackward(
      outputGradient: dAttended, query: activations.query, key: activations.key, value: activations.value,
      headCount: headCount, probabilities: activations.probabilities)
    var dTokens = Tensor(shape: activations.tokens.shape, repeating: 0)
    for (projection, gradient) in [(query, attention.query), (key, attention.key), (value, attention.value)] {
      dTokens.add(projection.backward(outputGradient: gradient, input: activations.tokens, gradients: &gradients))
    }
    let dNormalized = dTokens.permuted([0, 2, 1]).reshaped(input.shape)  // [N, C, H, W]
    // The residual's gradient ∂y is added as the group norm's backward writes ∂x.
    guard let groupNorm else {
      var dx = dNormalized
      dx.add(outputGradient)
      return needsInputGradient ? dx : nil
    }
    let dx = groupNorm.backward(
      outputGradient: dNormalized, input: input, statistics: activations.norm!, fusedSiLU: false, frozen: frozen,
      gradients: &gradients, addedGradient: outputGradient)
    return needsInputGradient ? dx : nil
  }

  /// `group_norm` with the statistics it used (none without a group norm).
  public func groupNormStatistics(in activations: Activations) -> [(norm: GroupNorm, statistics: GroupNormStatistics)] {
    guard let groupNorm, let statistics = activations.norm else { return [] }
    return [(groupNorm, statistics)]
  }

  /// The spatial form keeps its input's shape.
  public func outputShape(forInput inputShape: [Int]) -> [Int] { inputShape }

  /// The tokens, Q, K, V, the attention's result and, when kept (`keepsProbabilities(forInput:)`), its
  /// probabilities; recomputed by the three projections and the attention.
  public func activationCost(forInput inputShape: [Int]) -> (floats: Int, recomputeFLOPs: Double) {
    let (batch, channels, positions) = (inputShape[0], inputShape[1], inputShape[2] * inputShape[3])
    let inner = query.storedWeight.shape[0]
    let tokens = Double(batch * positions)
    let probabilities = keepsProbabilities(forInput: inputShape) ? batch * headCount * positions * positions : 0
    return (
      batch * positions * (channels + 4 * inner) + probabilities,
      2 * 3 * tokens * Double(channels * inner) + 4 * tokens * Double(positions * inner)
    )
  }
}
