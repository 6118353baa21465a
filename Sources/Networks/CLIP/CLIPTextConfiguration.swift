import Foundation
import TensorCore

/// The configuration of transformers' `CLIPTextModel` (`text_encoder/config.json`, a `CLIPTextConfig`).
///
/// Property names are the camelCase forms of the JSON keys; optional ones take transformers' defaults.
public struct CLIPTextConfiguration: Codable, Sendable, Equatable {
  /// Token-embedding rows (49408 for SD).
  public var vocabSize: Int
  /// Width of the hidden states (768 for SD 1.x, 1024 for SD 2.x).
  public var hiddenSize: Int
  /// MLP width.
  public var intermediateSize: Int
  /// Attention heads.
  public var numAttentionHeads: Int
  /// Encoder layers.
  public var numHiddenLayers: Int
  /// Position-embedding rows, the maximum sequence length (77).
  public var maxPositionEmbeddings: Int
  /// `quick_gelu` (SD 1.x, the default), `gelu` (SD 2.x), `gelu_new` or `gelu_pytorch_tanh`.
  public var hiddenAct: String?
  /// Layer-norm epsilon (default 1e-5).
  public var layerNormEps: Float?
  /// Width of the text projection of `CLIPTextModelWithProjection` (unused by `CLIPTextModel`).
  public var projectionDim: Int?
  /// The end-of-text id whose position gives the pooled output (transformers' default 49407). The legacy
  /// value 2, which many published configurations carry, means "the position of the largest id" instead.
  public var eosTokenId: Int?

  /// Creates a configuration.
  public init(
    vocabSize: Int = 49408, hiddenSize: Int, intermediateSize: Int, numAttentionHeads: Int,
    numHiddenLayers: Int, maxPositionEmbeddings: Int = 77, hiddenAct: String? = "quick_gelu",
    layerNormEps: Float? = 1e-5, projectionDim: Int? = nil, eosTokenId: Int? = nil
  ) {
    self.vocabSize = vocabSize
    self.hiddenSize = hiddenSize
    self.intermediateSize = intermediateSize
    self.numAttentionHeads = numAttentionHeads
    self.numHiddenLayers = numHiddenLayers
    self.maxPositionEmbeddings = maxPositionEmbeddings
    self.hiddenAct = hiddenAct
    self.layerNormEps = layerNormEps
    self.projectionDim = projectionDim
    self.eosTokenId = eosTokenId
  }

  /// Layer-norm epsilon.
  public var resolvedEpsilon: Float { layerNormEps ?? 1e-5 }
  /// The end-of-text id (default 49407).
  public var resolvedEOSTokenID: Int { eosTokenId ?? 49407 }

  /// The MLP activation named by `hidden_act`.
  /// - Throws: `ConfigurationError.unsupported` for other activations.
  public func activation(file: String = "text_encoder/config.json") throws -> Activation {
    switch hiddenAct ?? "quick_gelu" {
    case "quick_gelu": .quickGELU
    case "gelu": .gelu
    case "gelu_new", "gelu_pytorch_tanh": .geluTanh
    default:
      throw ConfigurationError.unsupported(file: file, field: "hidden_act", value: hiddenAct ?? "")
    }
  }

  /// Reads and validates `url` (a `text_encoder/config.json`).
  /// - Throws: `ConfigurationError` naming the file and field.
  public static func decode(contentsOf url: URL) throws -> CLIPTextConfiguration {
    let configuration = try ConfigurationFile.decode(CLIPTextConfiguration.self, from: url)
    try configuration.validate(file: url.path)
    return configuration
  }

  /// Checks that the fields are supported and consistent.
  /// - Throws: `ConfigurationError.unsupported` or `.invalid` naming `file` and the field.
  public func validate(file: String = "text_encoder/config.json") throws {
    _ = try activation(file: file)
    for (field, value) in [
      ("vocab_size", vocabSize), ("hidden_size", hiddenSize),
      ("intermediate_size", intermediateSize),
      ("num_attention_heads", numAttentionHeads), ("num_hidden_layers", numHiddenLayers),
      ("max_position_embeddings", maxPositionEmbeddings),
    ] where value <= 0 {
      throw ConfigurationError.invalid(
        file: file, field: field, reason: "must be positive, got \(value)")
    }
    for (field, value, range) in [
      ("vocab_size", vocabSize, ConfigurationLimits.vocabulary), ("hidden_size", hiddenSize, ConfigurationLimits.width),
      ("intermediate_size", intermediateSize, ConfigurationLimits.width),
      ("num_attention_heads", numAttentionHeads, ConfigurationLimits.heads),
      ("num_hidden_layers", numHiddenLayers, ConfigurationLimits.transformerLayers),
      ("max_position_embeddings", maxPositionEmbeddings, ConfigurationLimits.positions),
      ("projection_dim", projectionDim ?? 1, ConfigurationLimits.width),
    ] {
      try ConfigurationLimits.check(value, in: range, field: field, file: file)
    }
    guard hiddenSize % numAttentionHeads == 0 else {
      throw ConfigurationError.invalid(
        file: file, field: "num_attention_heads",
        reason: "hidden_size \(hiddenSize) is not divisible into \(numAttentionHeads) heads")
    }
  }
}

extension CLIPTextConfiguration {
  /// The text encoder of Stable Diffusion 1.5 (OpenAI CLIP ViT-L/14).
  public static let stableDiffusion15 = CLIPTextConfiguration(
    hiddenSize: 768, intermediateSize: 3072, numAttentionHeads: 12, numHiddenLayers: 12,
    hiddenAct: "quick_gelu",
    projectionDim: 768, eosTokenId: 2)

  /// The text encoder of Stable Diffusion 2.1(-base) (OpenCLIP ViT-H/14 without its last layer).
  public static let stableDiffusion21Base = CLIPTextConfiguration(
    hiddenSize: 1024, intermediateSize: 4096, numAttentionHeads: 16, numHiddenLayers: 23,
    hiddenAct: "gelu",
    projectionDim: 512, eosTokenId: 2)

  /// A tiny text encoder (width 32, 2 layers, full CLIP vocabulary size) for demos and tests.
  public static let tiny = CLIPTextConfiguration(
    hiddenSize: 32, intermediateSize: 64, numAttentionHeads: 4, numHiddenLayers: 2,
    hiddenAct: "gelu")
}
