import Foundation
import TensorCore

/// transformers' `CLIPTextModel`: token and position embeddings, a stack of pre-norm transformer layers with a
/// causal self-attention mask, and a final layer norm. The output is `last_hidden_state`, which Stable
/// Diffusion uses as the UNet's cross-attention context.
///
/// Checkpoint keys live under `text_model.` (the layout of every published SD checkpoint):
/// `text_model.embeddings.{token_embedding,position_embedding}.weight`,
/// `text_model.encoder.layers.<i>.{layer_norm1,self_attn.{q,k,v,out}_proj,layer_norm2,mlp.fc1,mlp.fc2}`,
/// `text_model.final_layer_norm`. Files written by transformers 5 without the prefix load too (see
/// `KeyRenaming.clipTextModel`).
///
/// Matches: transformers 5 `CLIPTextModel.forward(input_ids)` `.last_hidden_state`, without attention mask
/// (as Stable Diffusion pipelines call it). Limitations: no pooled output, no padding mask.
public final class CLIPTextModel: Layer, @unchecked Sendable {
  /// The configuration the model was built from.
  public let configuration: CLIPTextConfiguration
  let tokenEmbedding: Embedding
  let positionEmbedding: Embedding
  let layers: [CLIPEncoderLayer]
  let finalLayerNorm: LayerNorm

  /// Creates a zero-initialised model.
  /// - Throws: `ConfigurationError` if the configuration is not supported.
  public init(configuration: CLIPTextConfiguration) throws {
    try configuration.validate()
    self.configuration = configuration
    let width = configuration.hiddenSize
    let activation = try configuration.activation()
    tokenEmbedding = Embedding(count: configuration.vocabSize, width: width)
    positionEmbedding = Embedding(count: configuration.maxPositionEmbeddings, width: width)
    layers = (0..<configuration.numHiddenLayers).map { _ in
      CLIPEncoderLayer(
        width: width, intermediateWidth: configuration.intermediateSize,
        headCount: configuration.numAttentionHeads, activation: activation,
        epsilon: configuration.resolvedEpsilon)
    }
    finalLayerNorm = LayerNorm(width: width, epsilon: configuration.resolvedEpsilon)
  }

  /// Registers every parameter under `text_model.`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("text_model.embeddings.token_embedding", tokenEmbedding)
    registry.child("text_model.embeddings.position_embedding", positionEmbedding)
    registry.children("text_model.encoder.layers", layers)
    registry.child("text_model.final_layer_norm", finalLayerNorm)
  }

  /// The last hidden state for a batch of token-id rows.
  /// - Parameter tokenIDs: `B` rows of `T ≤ max_position_embeddings` ids, each in `0..<vocab_size`.
  /// - Returns: `[B, T, hidden_size]`.
  public func callAsFunction(_ tokenIDs: [[Int]]) -> Tensor {
    let length = tokenIDs.first?.count ?? 0
    precondition(
      length <= configuration.maxPositionEmbeddings,
      "CLIPTextModel: \(length) tokens exceed \(configuration.maxPositionEmbeddings) positions")
    let positions = positionEmbedding([Array(0..<length)])  // [1, T, D]
    var hidden = tokenEmbedding(tokenIDs) + positions  // [B, T, D]
    for layer in layers { hidden = layer(hidden) }
    return finalLayerNorm(hidden)
  }
}

/// transformers' `CLIPEncoderLayer`: `x + attn(ln1(x))`, then `x + fc2(act(fc1(ln2(x))))`.
///
/// The text tower masks attention causally; the vision tower (`CLIPVisionModel`) attends to every token.
///
/// Checkpoint keys: `layer_norm1`, `self_attn.{q_proj,k_proj,v_proj,out_proj}`, `layer_norm2`, `mlp.fc1`, `mlp.fc2`.
final class CLIPEncoderLayer: Layer {
  let layerNorm1: LayerNorm
  let query: Linear
  let key: Linear
  let value: Linear
  let output: Linear
  let layerNorm2: LayerNorm
  let fc1: Linear
  let fc2: Linear
  let headCount: Int
  let activation: Activation
  /// Whether a token attends only to itself and earlier tokens (text) or to all tokens (vision).
  let causal: Bool

  init(
    width: Int, intermediateWidth: Int, headCount: Int, activation: Activation, epsilon: Float,
    causal: Bool = true
  ) {
    layerNorm1 = LayerNorm(width: width, epsilon: epsilon)
    query = Linear(inputCount: width, outputCount: width)
    key = Linear(inputCount: width, outputCount: width)
    value = Linear(inputCount: width, outputCount: width)
    output = Linear(inputCount: width, outputCount: width)
    layerNorm2 = LayerNorm(width: width, epsilon: epsilon)
    fc1 = Linear(inputCount: width, outputCount: intermediateWidth)
    fc2 = Linear(inputCount: intermediateWidth, outputCount: width)
    self.headCount = headCount
    self.activation = activation
    self.causal = causal
  }

  func registerParameters(in registry: ParameterRegistry) {
    registry.child("layer_norm1", layerNorm1)
    registry.child("self_attn.q_proj", query)
    registry.child("self_attn.k_proj", key)
    registry.child("self_attn.v_proj", value)
    registry.child("self_attn.out_proj", output)
    registry.child("layer_norm2", layerNorm2)
    registry.child("mlp.fc1", fc1)
    registry.child("mlp.fc2", fc2)
  }

  /// `x`: `[B, T, D]` → `[B, T, D]`.
  func callAsFunction(_ x: Tensor) -> Tensor {
    let normalized = layerNorm1(x)
    let attended = scaledDotProductAttention(
      query: query(normalized), key: key(normalized), value: value(normalized),
      headCount: headCount, causal: causal)
    var hidden = x + output(attended)
    hidden = hidden + fc2(activated(fc1(layerNorm2(hidden)), activation))
    return hidden
  }
}
