import Foundation
import TensorCore

/// The configuration of transformers' `CLIPModel` (`config.json` with `model_type` `clip`): the text tower,
/// the vision tower and the width of the shared embedding space.
///
/// Decoding follows transformers' `CLIPConfig`: absent fields take the `CLIPTextConfig` / `CLIPVisionConfig`
/// defaults (files saved by recent transformers omit default values), and the legacy `text_config_dict` /
/// `vision_config_dict` fields, when present, replace `text_config` / `vision_config` (filled with defaults).
public struct CLIPModelConfiguration: Sendable, Equatable {
  /// The text tower (`text_config`).
  public var textConfiguration: CLIPTextConfiguration
  /// The vision tower (`vision_config`).
  public var visionConfiguration: CLIPVisionConfiguration
  /// Width of the shared embedding space: the output of `text_projection` and `visual_projection`
  /// (top-level `projection_dim`, default 512).
  public var projectionDim: Int
  /// `text_config.eos_token_id` (default 49407). The value 2, found in configurations written before
  /// transformers PR #24773, selects the legacy pooling rule (see ``CLIPModel/pooledTokenPositions(for:)``).
  public var eosTokenID: Int
  /// The initial `logit_scale` (top-level `logit_scale_init_value`, default 2.6592); the loaded
  /// ``CLIPModel/logitScale`` is what the checkpoint holds.
  public var logitScaleInitValue: Float

  /// Creates a configuration.
  /// - Parameters:
  ///   - textConfiguration: the text tower.
  ///   - visionConfiguration: the vision tower.
  ///   - projectionDim: width of the shared embedding space.
  ///   - eosTokenID: the text tower's end-of-sequence id, used to pool the text output.
  ///   - logitScaleInitValue: the initial logit scale.
  public init(
    textConfiguration: CLIPTextConfiguration, visionConfiguration: CLIPVisionConfiguration,
    projectionDim: Int = 512, eosTokenID: Int = 49407, logitScaleInitValue: Float = 2.6592
  ) {
    self.textConfiguration = textConfiguration
    self.visionConfiguration = visionConfiguration
    self.projectionDim = projectionDim
    self.eosTokenID = eosTokenID
    self.logitScaleInitValue = logitScaleInitValue
  }

  /// Whether the text output is pooled with transformers' legacy rule (`eos_token_id == 2`: the position of
  /// the largest token id) rather than at the first `eos_token_id`.
  public var usesLegacyPooling: Bool { eosTokenID == 2 }

  /// Reads and validates a `CLIPModel` `config.json`.
  /// - Parameter url: the file.
  /// - Returns: the configuration.
  /// - Throws: `ConfigurationError` naming the file and field.
  public static func decode(contentsOf url: URL) throws -> CLIPModelConfiguration {
    let data: Data
    do { data = try RegularFile.read(url) } catch {
      throw ConfigurationError.unreadable(file: url.path, reason: error.reason)
    }
    return try decode(data: data, file: url.path)
  }

  /// Decodes and validates a `CLIPModel` configuration from JSON `data`.
  /// - Parameters:
  ///   - data: the JSON text.
  ///   - file: the name used in errors.
  /// - Returns: the configuration.
  /// - Throws: `ConfigurationError` naming `file` and the field.
  public static func decode(data: Data, file: String) throws -> CLIPModelConfiguration {
    let fields = try ConfigurationFile.decode(Fields.self, from: data, file: file)
    if let modelType = fields.modelType, modelType != "clip" {
      throw ConfigurationError.unsupported(
        file: file, field: "model_type",
        value: "\(modelType) (a CLIPModel configuration has model_type \"clip\")")
    }
    guard let textFields = fields.textConfigDict ?? fields.textConfig else {
      throw ConfigurationError.missingField(file: file, field: "text_config")
    }
    guard let visionFields = fields.visionConfigDict ?? fields.visionConfig else {
      throw ConfigurationError.missingField(file: file, field: "vision_config")
    }
    let eosTokenID: Int
    switch textFields.eosTokenId {
    case nil: eosTokenID = 49407
    case .uniform(let id)?: eosTokenID = id
    case .perBlock(let ids)? where ids.count == 1: eosTokenID = ids[0]
    case .perBlock(let ids)?:
      throw ConfigurationError.unsupported(
        file: file, field: "text_config.eos_token_id",
        value: "\(ids) (one id is needed for pooling)")
    }
    let configuration = CLIPModelConfiguration(
      textConfiguration: textFields.resolved(), visionConfiguration: visionFields.resolved(),
      projectionDim: fields.projectionDim ?? 512, eosTokenID: eosTokenID,
      logitScaleInitValue: fields.logitScaleInitValue ?? 2.6592)
    try configuration.validate(file: file)
    return configuration
  }

  /// Checks both towers and the projection width.
  /// - Parameter file: the file named in errors.
  /// - Throws: `ConfigurationError.unsupported` or `.invalid` naming `file` and the field.
  public func validate(file: String = "config.json") throws {
    try Self.withFieldPrefix("text_config.") { try textConfiguration.validate(file: file) }
    try Self.withFieldPrefix("vision_config.") { try visionConfiguration.validate(file: file) }
    guard projectionDim > 0 else {
      throw ConfigurationError.invalid(
        file: file, field: "projection_dim", reason: "must be positive, got \(projectionDim)")
    }
    guard eosTokenID >= 0 else {
      throw ConfigurationError.invalid(
        file: file, field: "text_config.eos_token_id",
        reason: "must be a token id, got \(eosTokenID)")
    }
  }

  /// Runs `body`, qualifying the field of a `ConfigurationError` it throws with `prefix`.
  static func withFieldPrefix(_ prefix: String, _ body: () throws -> Void) throws {
    do {
      try body()
    } catch ConfigurationError.invalid(let file, let field, let reason) {
      throw ConfigurationError.invalid(file: file, field: prefix + field, reason: reason)
    } catch ConfigurationError.unsupported(let file, let field, let value) {
      throw ConfigurationError.unsupported(file: file, field: prefix + field, value: value)
    }
  }

  /// The JSON fields read from a `CLIPModel` `config.json`.
  struct Fields: Decodable {
    var modelType: String?
    var textConfig: CLIPTextConfigurationFields?
    var textConfigDict: CLIPTextConfigurationFields?
    var visionConfig: CLIPVisionConfigurationFields?
    var visionConfigDict: CLIPVisionConfigurationFields?
    var projectionDim: Int?
    var logitScaleInitValue: Float?
  }
}

extension CLIPModelConfiguration {
  /// OpenAI CLIP ViT-B/16 (`openai/clip-vit-base-patch16`), the model the paper ranks with.
  public static let vitB16 = CLIPModelConfiguration(
    textConfiguration: CLIPTextConfiguration(
      hiddenSize: 512, intermediateSize: 2048, numAttentionHeads: 8, numHiddenLayers: 12,
      projectionDim: 512),
    visionConfiguration: .vitB16, projectionDim: 512, eosTokenID: 2)
}

/// A text configuration as written in JSON: every field optional (transformers fills defaults).
struct CLIPTextConfigurationFields: Decodable {
  var vocabSize: Int?
  var hiddenSize: Int?
  var intermediateSize: Int?
  var numAttentionHeads: Int?
  var numHiddenLayers: Int?
  var maxPositionEmbeddings: Int?
  var hiddenAct: String?
  var layerNormEps: Float?
  var projectionDim: Int?
  var eosTokenId: PerBlock<Int>?

  /// The configuration with transformers' `CLIPTextConfig` defaults for absent fields.
  func resolved() -> CLIPTextConfiguration {
    CLIPTextConfiguration(
      vocabSize: vocabSize ?? 49408, hiddenSize: hiddenSize ?? 512,
      intermediateSize: intermediateSize ?? 2048, numAttentionHeads: numAttentionHeads ?? 8,
      numHiddenLayers: numHiddenLayers ?? 12, maxPositionEmbeddings: maxPositionEmbeddings ?? 77,
      hiddenAct: hiddenAct ?? "quick_gelu", layerNormEps: layerNormEps ?? 1e-5,
      projectionDim: projectionDim ?? 512)
  }
}
