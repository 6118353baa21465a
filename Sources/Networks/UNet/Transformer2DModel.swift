import TensorCore

/// diffusers `BasicTransformerBlock` as used by Stable Diffusion: pre-LayerNorm self-attention,
/// cross-attention over the text context, and a GEGLU feed-forward, each with a residual.
///
/// Checkpoint keys: `norm1`, `attn1`, `norm2`, `attn2`, `norm3`, `ff`.
/// Matches: diffusers `BasicTransformerBlock(norm_type="layer_norm", activation_fn="geglu")`.
/// Limitations: no ada-norm variants, no `only_cross_attention`, no `double_self_attention`.
public final class BasicTransformerBlock: Layer {
  let norm1: LayerNorm
  let selfAttention: Attention
  let norm2: LayerNorm
  let crossAttention: Attention
  let norm3: LayerNorm
  let feedForward: FeedForward

  /// Creates a zero-initialised block of width `headCount × headWidth`.
  public init(width: Int, headCount: Int, headWidth: Int, contextWidth: Int, epsilon: Float = 1e-5) {
    norm1 = LayerNorm(width: width, epsilon: epsilon)
    selfAttention = Attention(queryWidth: width, headCount: headCount, headWidth: headWidth)
    norm2 = LayerNorm(width: width, epsilon: epsilon)
    crossAttention = Attention(
      queryWidth: width, contextWidth: contextWidth, headCount: headCount, headWidth: headWidth)
    norm3 = LayerNorm(width: width, epsilon: epsilon)
    feedForward = FeedForward(width: width)
  }

  /// Registers `norm1`, `attn1`, `norm2`, `attn2`, `norm3`, `ff`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("norm1", norm1)
    registry.child("attn1", selfAttention)
    registry.child("norm2", norm2)
    registry.child("attn2", crossAttention)
    registry.child("norm3", norm3)
    registry.child("ff", feedForward)
  }

  /// `x`: `[B, T, width]`, `context`: `[B, S, contextWidth]` → `[B, T, width]`.
  public func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
    var hidden = x + selfAttention(norm1(x))
    hidden = hidden + crossAttention(norm2(hidden), context: context)
    return hidden + feedForward(norm3(hidden))
  }
}

/// diffusers `Transformer2DModel` on continuous inputs: GroupNorm, `proj_in` (1×1 convolution or linear),
/// transformer blocks on the `[B, H·W, C]` sequence, `proj_out`, plus the input as a residual.
///
/// Checkpoint keys: `norm`, `proj_in`, `transformer_blocks.<i>`, `proj_out`.
/// Matches: diffusers `Transformer2DModel` with `use_linear_projection` true or false, group-norm epsilon 1e-6.
public final class Transformer2DModel: Layer {
  let norm: GroupNorm
  let projectionInConvolution: Conv2D?
  let projectionInLinear: Linear?
  let blocks: [BasicTransformerBlock]
  let projectionOutConvolution: Conv2D?
  let projectionOutLinear: Linear?

  /// Creates a zero-initialised model on `channels` channels (`headCount` heads of `channels / headCount`).
  public init(
    channels: Int, headCount: Int, contextWidth: Int, layerCount: Int, groupCount: Int,
    useLinearProjection: Bool
  ) {
    norm = GroupNorm(groupCount: groupCount, channels: channels, epsilon: 1e-6)
    if useLinearProjection {
      projectionInLinear = Linear(inputCount: channels, outputCount: channels)
      projectionOutLinear = Linear(inputCount: channels, outputCount: channels)
      projectionInConvolution = nil
      projectionOutConvolution = nil
    } else {
      projectionInConvolution = Conv2D(
        inputChannels: channels, outputChannels: channels, kernelSize: 1)
      projectionOutConvolution = Conv2D(
        inputChannels: channels, outputChannels: channels, kernelSize: 1)
      projectionInLinear = nil
      projectionOutLinear = nil
    }
    blocks = (0..<layerCount).map { _ in
      BasicTransformerBlock(
        width: channels, headCount: headCount, headWidth: channels / headCount,
        contextWidth: contextWidth)
    }
  }

  /// Registers `norm`, `proj_in`, `transformer_blocks`, `proj_out`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("norm", norm)
    registry.child("proj_in", projectionInConvolution ?? projectionInLinear)
    registry.children("transformer_blocks", blocks)
    registry.child("proj_out", projectionOutConvolution ?? projectionOutLinear)
  }

  /// `x`: `[N, C, H, W]`, `context`: `[N, S, contextWidth]` → `[N, C, H, W]`.
  public func callAsFunction(_ x: Tensor, context: Tensor) -> Tensor {
    precondition(x.rank == 4, "Transformer2DModel expects [N, C, H, W], got \(x.shape)")
    let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    var hidden = norm(x)
    if let projectionInConvolution { hidden = projectionInConvolution(hidden) }
    hidden = hidden.permuted([0, 2, 3, 1]).reshaped([batch, height * width, channels])  // [N, HW, C]
    if let projectionInLinear { hidden = projectionInLinear(hidden) }
    for block in blocks { hidden = block(hidden, context: context) }
    if let projectionOutLinear { hidden = projectionOutLinear(hidden) }
    hidden = hidden.reshaped([batch, height, width, channels]).permuted([0, 3, 1, 2])  // [N, C, H, W]
    if let projectionOutConvolution { hidden = projectionOutConvolution(hidden) }
    return hidden + x
  }
}
