import Foundation
import TensorCore

/// transformers' CLIP vision tower (`CLIPVisionTransformer`, the `vision_model` of `CLIPVisionModel` and of
/// `CLIPModel`): patch embedding, class token and learned positions, a pre-layer norm, a stack of pre-norm
/// transformer layers with full (non-causal) self-attention, and a post-layer norm on the class token.
///
/// Checkpoint keys live under `vision_model.`:
/// `vision_model.embeddings.{class_embedding, patch_embedding.weight, position_embedding.weight}`,
/// `vision_model.pre_layrnorm` (transformers' spelling),
/// `vision_model.encoder.layers.<i>.{layer_norm1,self_attn.{q,k,v,out}_proj,layer_norm2,mlp.fc1,mlp.fc2}`,
/// `vision_model.post_layernorm`.
///
/// Matches: transformers 5 `CLIPVisionModel.forward(pixel_values)` (`last_hidden_state`, and
/// `pooler_output = post_layernorm(last_hidden_state[:, 0])`).
/// Limitations: the input must be exactly `image_size × image_size` (no `interpolate_pos_encoding`).
public final class CLIPVisionModel: Layer {
  /// The configuration the model was built from.
  public let configuration: CLIPVisionConfiguration
  let embeddings: CLIPVisionEmbeddings
  let preLayerNorm: LayerNorm
  let layers: [CLIPEncoderLayer]
  let postLayerNorm: LayerNorm

  /// Creates a zero-initialised model.
  /// - Parameter configuration: the vision configuration.
  /// - Throws: `ConfigurationError` if the configuration is not supported.
  public init(configuration: CLIPVisionConfiguration) throws {
    try configuration.validate()
    self.configuration = configuration
    let width = configuration.hiddenSize
    let activation = try configuration.activation()
    let epsilon = configuration.resolvedEpsilon
    embeddings = CLIPVisionEmbeddings(configuration: configuration)
    preLayerNorm = LayerNorm(width: width, epsilon: epsilon)
    layers = (0..<configuration.numHiddenLayers).map { _ in
      CLIPEncoderLayer(
        width: width, intermediateWidth: configuration.intermediateSize,
        headCount: configuration.numAttentionHeads, activation: activation, epsilon: epsilon,
        causal: false)
    }
    postLayerNorm = LayerNorm(width: width, epsilon: epsilon)
  }

  /// Registers every parameter under `vision_model.`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("vision_model.embeddings", embeddings)
    registry.child("vision_model.pre_layrnorm", preLayerNorm)
    registry.children("vision_model.encoder.layers", layers)
    registry.child("vision_model.post_layernorm", postLayerNorm)
  }

  /// The last hidden state and the pooled (class-token) output for a batch of normalised images.
  /// - Parameter pixelValues: `[B, num_channels, image_size, image_size]`, already CLIP-normalised.
  /// - Returns: `lastHiddenState` `[B, 1 + patches, hidden_size]` and `pooledOutput`
  ///   `post_layernorm(lastHiddenState[:, 0])` `[B, hidden_size]`.
  public func callAsFunction(_ pixelValues: Tensor) -> (
    lastHiddenState: Tensor, pooledOutput: Tensor
  ) {
    let side = configuration.imageSize
    precondition(
      pixelValues.rank == 4
        && Array(pixelValues.shape.dropFirst()) == [configuration.numChannels, side, side],
      "CLIPVisionModel expects [B, \(configuration.numChannels), \(side), \(side)], got \(pixelValues.shape)"
    )
    var hidden = preLayerNorm(embeddings(pixelValues))  // [B, T, D]
    for layer in layers { hidden = layer(hidden) }
    let (batch, width) = (hidden.shape[0], hidden.shape[2])
    let classTokens = hidden.sliced(axis: 1, 0..<1).reshaped([batch, width])  // [B, D]
    return (hidden, postLayerNorm(classTokens))
  }
}

/// transformers' `CLIPVisionEmbeddings`: a stride-`patch_size` convolution without bias turns the image into
/// patch tokens, a learned class token is prepended, and learned position embeddings are added.
///
/// Checkpoint keys: `class_embedding` `[D]`, `patch_embedding.weight` `[D, C, P, P]`,
/// `position_embedding.weight` `[1 + patches, D]`.
final class CLIPVisionEmbeddings: Layer {
  var classEmbedding: Tensor
  let patchEmbedding: Conv2D
  let positionEmbedding: Embedding

  init(configuration: CLIPVisionConfiguration) {
    let width = configuration.hiddenSize
    classEmbedding = Tensor(shape: [width])
    patchEmbedding = Conv2D(
      inputChannels: configuration.numChannels, outputChannels: width,
      kernelSize: configuration.patchSize, stride: configuration.patchSize, bias: false)
    positionEmbedding = Embedding(count: configuration.tokenCount, width: width)
  }

  func registerParameters(in registry: ParameterRegistry) {
    registry.tensor("class_embedding", of: self, \.classEmbedding)
    registry.child("patch_embedding", patchEmbedding)
    registry.child("position_embedding", positionEmbedding)
  }

  /// `pixelValues` `[B, C, S, S]` → tokens `[B, 1 + (S / P)², D]`.
  func callAsFunction(_ pixelValues: Tensor) -> Tensor {
    let batch = pixelValues.shape[0]
    let width = classEmbedding.count
    let patches = patchEmbedding(pixelValues)  // [B, D, g, g]
    let patchCount = patches.shape[2] * patches.shape[3]
    // [B, D, g²] → [B, g², D]
    let patchTokens = patches.reshaped([batch, width, patchCount]).permuted([0, 2, 1])
    let classTokens = Tensor.concatenated(
      Array(repeating: classEmbedding.reshaped([1, 1, width]), count: batch), axis: 0)  // [B, 1, D]
    let tokens = Tensor.concatenated([classTokens, patchTokens], axis: 1)  // [B, 1 + g², D]
    return tokens + positionEmbedding([Array(0..<(patchCount + 1))])  // + [1, 1 + g², D]
  }
}
