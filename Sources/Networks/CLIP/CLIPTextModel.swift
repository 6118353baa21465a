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
/// (as Stable Diffusion pipelines call it), and its `hidden_states[-2]` and `pooler_output` (``encode(_:)``).
/// Limitations: no padding mask.
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
    encode(tokenIDs).lastHiddenState
  }

  /// The outputs SDXL reads besides the last hidden state: the penultimate layer's hidden state (diffusers'
  /// `hidden_states[-2]`, without the final layer norm) and the pooled output (the last hidden state at each
  /// row's end-of-text token).
  public struct Output: Sendable {
    /// `[B, T, D]` after the final layer norm (`last_hidden_state`).
    public var lastHiddenState: Tensor
    /// `[B, T, D]`: the input of the last layer (`hidden_states[-2]`).
    public var penultimateHiddenState: Tensor
    /// `[B, D]`: `lastHiddenState` at each row's end-of-text token (`pooler_output`).
    public var pooled: Tensor
  }

  /// Runs the encoder once and returns the last and penultimate hidden states and the pooled output.
  /// - Parameter tokenIDs: `B` rows of `T ≤ max_position_embeddings` ids, each in `0..<vocab_size`.
  public func encode(_ tokenIDs: [[Int]]) -> Output {
    let length = tokenIDs.first?.count ?? 0
    precondition(
      length <= configuration.maxPositionEmbeddings,
      "CLIPTextModel: \(length) tokens exceed \(configuration.maxPositionEmbeddings) positions")
    let positions = positionEmbedding([Array(0..<length)])  // [1, T, D]
    var hidden = tokenEmbedding(tokenIDs) + positions  // [B, T, D]
    var penultimate = hidden
    for layer in layers {
      penultimate = hidden
      hidden = layer(hidden)
    }
    let last = finalLayerNorm(hidden)
    let eos = configuration.resolvedEOSTokenID
    let rows = tokenIDs.enumerated().map { row, ids in
      // transformers: the first end-of-text token, or with the legacy id 2 the largest id.
      let position =
        eos == 2
        ? ids.indices.max { ids[$0] < ids[$1] || (ids[$0] == ids[$1] && $0 > $1) } ?? 0
        : ids.firstIndex(of: eos) ?? 0
      return last.sliced(axis: 0, row..<row + 1).sliced(axis: 1, position..<position + 1)
        .reshaped([1, configuration.hiddenSize])
    }
    return Output(
      lastHiddenState: last, penultimateHiddenState: penultimate,
      pooled: rows.isEmpty ? Tensor(shape: [0, configuration.hiddenSize]) : Tensor.concatenated(rows, axis: 0))
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
