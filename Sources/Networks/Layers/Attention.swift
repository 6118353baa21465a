import TensorCore

/// diffusers `Attention` (the processor `AttnProcessor2_0`): multi-head scaled dot-product attention with
/// `to_q`, `to_k`, `to_v` projections and an output projection `to_out.0`.
///
/// Two uses:
/// - In `BasicTransformerBlock`, on sequences `[B, T, C]`, as self-attention (`context` nil) or
///   cross-attention over `context` `[B, S, contextWidth]`; projections without bias.
/// - In the VAE mid block, on images `[N, C, H, W]` (`callAsFunction(spatial:)`), with its own group norm,
///   biased projections, and a residual connection (diffusers' `_from_deprecated_attn_block` layout).
///
/// Checkpoint keys: `group_norm` (spatial form only), `to_q`, `to_k`, `to_v`, `to_out.0`.
///
/// Matches: diffusers 0.42 `Attention` with `scale_qk=True`, `rescale_output_factor=1`.
/// Limitations: no `norm_cross`, `added_kv_proj_dim`, QK norms or attention masks.
public final class Attention: Layer {
  let groupNorm: GroupNorm?
  let query: Linear
  let key: Linear
  let value: Linear
  let output: Linear
  /// The number of heads; each has width `innerWidth / headCount`.
  public let headCount: Int

  /// Creates a zero-initialised attention layer.
  /// - Parameters:
  ///   - queryWidth: channels of the input (and output).
  ///   - contextWidth: channels of the cross-attention context, or nil for self-attention.
  ///   - headCount: heads.
  ///   - headWidth: channels per head; the inner width is `headCount × headWidth`.
  ///   - projectionBias: whether `to_q`, `to_k`, `to_v` have biases.
  ///   - groupNormGroups: for the spatial (VAE) form, the group count of `group_norm`; nil otherwise.
  ///   - groupNormEpsilon: epsilon of `group_norm`.
  public init(
    queryWidth: Int, contextWidth: Int? = nil, headCount: Int, headWidth: Int,
    projectionBias: Bool = false,
    groupNormGroups: Int? = nil, groupNormEpsilon: Float = 1e-6
  ) {
    let inner = headCount * headWidth
    groupNorm = groupNormGroups.map {
      GroupNorm(groupCount: $0, channels: queryWidth, epsilon: groupNormEpsilon)
    }
    query = Linear(inputCount: queryWidth, outputCount: inner, bias: projectionBias)
    key = Linear(inputCount: contextWidth ?? queryWidth, outputCount: inner, bias: projectionBias)
    value = Linear(inputCount: contextWidth ?? queryWidth, outputCount: inner, bias: projectionBias)
    output = Linear(inputCount: inner, outputCount: queryWidth, bias: true)
    self.headCount = headCount
  }

  /// Registers `group_norm`, `to_q`, `to_k`, `to_v`, `to_out.0`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("group_norm", groupNorm)
    registry.child("to_q", query)
    registry.child("to_k", key)
    registry.child("to_v", value)
    registry.child("to_out.0", output)
  }

  /// Sequence attention: `x` `[B, T, C]`, `context` `[B, S, contextWidth]` or nil (self-attention) → `[B, T, C]`.
  public func callAsFunction(_ x: Tensor, context: Tensor? = nil) -> Tensor {
    precondition(x.rank == 3, "Attention expects [B, T, C], got \(x.shape)")
    let source = context ?? x
    let attended = scaledDotProductAttention(
      query: query(x), key: key(source), value: value(source), headCount: headCount)  // [B, T, inner]
    return output(attended)
  }

  /// Spatial self-attention with residual: `x` `[N, C, H, W]` → `x + attention(group_norm(x))`, `[N, C, H, W]`.
  public func callAsFunction(spatial x: Tensor) -> Tensor {
    precondition(x.rank == 4, "Attention(spatial:) expects [N, C, H, W], got \(x.shape)")
    let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let normalized = groupNorm.map { $0(x) } ?? x
    let sequence = normalized.reshaped([batch, channels, height * width]).transposedLastTwo()  // [N, HW, C]
    let attended = self(sequence)  // [N, HW, C]
    return attended.transposedLastTwo().reshaped([batch, channels, height, width]) + x
  }
}
