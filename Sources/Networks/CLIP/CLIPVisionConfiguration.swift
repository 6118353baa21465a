import Foundation
import TensorCore

/// The configuration of transformers' CLIP vision tower (`CLIPVisionConfig`, the `vision_config` of a
/// `CLIPModel` `config.json`).
///
/// Property names are the camelCase forms of the JSON keys. ``decode(contentsOf:)`` fills every absent field
/// with transformers' default (newer `save_pretrained` files omit fields equal to the default).
public struct CLIPVisionConfiguration: Codable, Sendable, Equatable {
  /// Width of the hidden states (768 for ViT-B, 1024 for ViT-L).
  public var hiddenSize: Int
  /// MLP width.
  public var intermediateSize: Int
  /// Attention heads.
  public var numAttentionHeads: Int
  /// Encoder layers.
  public var numHiddenLayers: Int
  /// Input channels (3 for RGB).
  public var numChannels: Int
  /// The square input side in pixels (224 for the OpenAI models).
  public var imageSize: Int
  /// The square patch side in pixels (16 for ViT-B/16, 32 for ViT-B/32, 14 for ViT-L/14).
  public var patchSize: Int
  /// `quick_gelu` (OpenAI CLIP, the default), `gelu` (OpenCLIP), `gelu_new` or `gelu_pytorch_tanh`.
  public var hiddenAct: String?
  /// Layer-norm epsilon (default 1e-5).
  public var layerNormEps: Float?
  /// Width of the visual projection of `CLIPVisionModelWithProjection` (a `CLIPModel` uses its own
  /// top-level `projection_dim` instead).
  public var projectionDim: Int?

  /// Creates a configuration; the defaults are transformers' `CLIPVisionConfig` defaults (ViT-B/32).
  public init(
    hiddenSize: Int = 768, intermediateSize: Int = 3072, numAttentionHeads: Int = 12,
    numHiddenLayers: Int = 12, numChannels: Int = 3, imageSize: Int = 224, patchSize: Int = 32,
    hiddenAct: String? = "quick_gelu", layerNormEps: Float? = 1e-5, projectionDim: Int? = 512
  ) {
    self.hiddenSize = hiddenSize
    self.intermediateSize = intermediateSize
    self.numAttentionHeads = numAttentionHeads
    self.numHiddenLayers = numHiddenLayers
    self.numChannels = numChannels
    self.imageSize = imageSize
    self.patchSize = patchSize
    self.hiddenAct = hiddenAct
    self.layerNormEps = layerNormEps
    self.projectionDim = projectionDim
  }

  /// Layer-norm epsilon.
  public var resolvedEpsilon: Float { layerNormEps ?? 1e-5 }

  /// Patches per side: `image_size / patch_size` rounded down (transformers' rule).
  public var patchesPerSide: Int { imageSize / patchSize }

  /// Tokens of the vision transformer: one class token and `patchesPerSide²` patches.
  public var tokenCount: Int { patchesPerSide * patchesPerSide + 1 }

  /// The MLP activation named by `hidden_act`.
  /// - Parameter file: the file named in errors.
  /// - Throws: `ConfigurationError.unsupported` for other activations.
  public func activation(file: String = "config.json") throws -> Activation {
    switch hiddenAct ?? "quick_gelu" {
    case "quick_gelu": .quickGELU
    case "gelu": .gelu
    case "gelu_new", "gelu_pytorch_tanh": .geluTanh
    default:
      throw ConfigurationError.unsupported(
        file: file, field: "hidden_act", value: hiddenAct ?? "")
    }
  }

  /// Reads a standalone vision `config.json` (a `CLIPVisionModel` folder, `model_type` `clip_vision_model`)
  /// and validates it; absent fields take transformers' defaults. For a `CLIPModel` file (`model_type`
  /// `clip`) its `vision_config` is read, as transformers' `CLIPVisionConfig.from_pretrained` does.
  /// - Parameter url: the file.
  /// - Returns: the configuration.
  /// - Throws: `ConfigurationError` naming the file and field.
  public static func decode(contentsOf url: URL) throws -> CLIPVisionConfiguration {
    let fields = try ConfigurationFile.decode(CLIPVisionConfigurationFields.self, from: url)
    if fields.modelType == "clip" {
      return try CLIPModelConfiguration.decode(contentsOf: url).visionConfiguration
    }
    let configuration = fields.resolved()
    try configuration.validate(file: url.path)
    return configuration
  }

  /// Checks that the fields are supported and consistent.
  /// - Parameter file: the file named in errors.
  /// - Throws: `ConfigurationError.unsupported` or `.invalid` naming `file` and the field.
  public func validate(file: String = "config.json") throws {
    _ = try activation(file: file)
    for (field, value) in [
      ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
      ("num_attention_heads", numAttentionHeads), ("num_hidden_layers", numHiddenLayers),
      ("num_channels", numChannels), ("image_size", imageSize), ("patch_size", patchSize),
    ] where value <= 0 {
      throw ConfigurationError.invalid(
        file: file, field: field, reason: "must be positive, got \(value)")
    }
    for (field, value, range) in [
      ("hidden_size", hiddenSize, ConfigurationLimits.width),
      ("intermediate_size", intermediateSize, ConfigurationLimits.width),
      ("num_attention_heads", numAttentionHeads, ConfigurationLimits.heads),
      ("num_hidden_layers", numHiddenLayers, ConfigurationLimits.transformerLayers),
      ("num_channels", numChannels, ConfigurationLimits.imageChannels),
      ("image_size", imageSize, ConfigurationLimits.imageSampleSize),
      ("patch_size", patchSize, ConfigurationLimits.imageSampleSize),
    ] {
      try ConfigurationLimits.check(value, in: range, field: field, file: file)
    }
    guard hiddenSize % numAttentionHeads == 0 else {
      throw ConfigurationError.invalid(
        file: file, field: "num_attention_heads",
        reason: "hidden_size \(hiddenSize) is not divisible into \(numAttentionHeads) heads")
    }
    guard patchSize <= imageSize else {
      throw ConfigurationError.invalid(
        file: file, field: "patch_size",
        reason: "patch side \(patchSize) exceeds the image side \(imageSize)")
    }
  }
}

extension CLIPVisionConfiguration {
  /// The vision tower of OpenAI CLIP ViT-B/16 (`openai/clip-vit-base-patch16`, the paper's ranking model).
  public static let vitB16 = CLIPVisionConfiguration(patchSize: 16, projectionDim: 512)

  /// The vision tower of OpenAI CLIP ViT-B/32 (`openai/clip-vit-base-patch32`).
  public static let vitB32 = CLIPVisionConfiguration(patchSize: 32, projectionDim: 512)

  /// The vision tower of OpenAI CLIP ViT-L/14 (`openai/clip-vit-large-patch14`).
  public static let vitL14 = CLIPVisionConfiguration(
    hiddenSize: 1024, intermediateSize: 4096, numAttentionHeads: 16, numHiddenLayers: 24,
    patchSize: 14, projectionDim: 768)
}

/// A vision configuration as written in JSON: every field optional (transformers fills defaults).
struct CLIPVisionConfigurationFields: Decodable, Equatable {
  var hiddenSize: Int?
  var intermediateSize: Int?
  var numAttentionHeads: Int?
  var numHiddenLayers: Int?
  var numChannels: Int?
  var imageSize: Int?
  var patchSize: Int?
  var hiddenAct: String?
  var layerNormEps: Float?
  var projectionDim: Int?
  /// `clip_vision_model` for a standalone file, `clip` for a whole `CLIPModel` configuration.
  var modelType: String?

  /// The configuration with transformers' `CLIPVisionConfig` defaults for absent fields.
  func resolved() -> CLIPVisionConfiguration {
    let defaults = CLIPVisionConfiguration()
    return CLIPVisionConfiguration(
      hiddenSize: hiddenSize ?? defaults.hiddenSize,
      intermediateSize: intermediateSize ?? defaults.intermediateSize,
      numAttentionHeads: numAttentionHeads ?? defaults.numAttentionHeads,
      numHiddenLayers: numHiddenLayers ?? defaults.numHiddenLayers,
      numChannels: numChannels ?? defaults.numChannels,
      imageSize: imageSize ?? defaults.imageSize, patchSize: patchSize ?? defaults.patchSize,
      hiddenAct: hiddenAct ?? defaults.hiddenAct,
      layerNormEps: layerNormEps ?? defaults.layerNormEps,
      projectionDim: projectionDim ?? defaults.projectionDim)
  }
}
