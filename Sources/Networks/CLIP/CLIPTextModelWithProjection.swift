import TensorCore

/// transformers' `CLIPTextModelWithProjection`: a ``CLIPTextModel`` whose pooled output goes through a linear
/// projection without bias (`text_embeds`) — SDXL's second text encoder (OpenCLIP ViT-bigG).
///
/// Checkpoint keys: the text model's (`text_model.…`) and `text_projection.weight`
/// `[projection_dim, hidden_size]`.
public final class CLIPTextModelWithProjection: Layer, @unchecked Sendable {
  /// The text model.
  public let textModel: CLIPTextModel
  let textProjection: Linear

  /// Creates a zero-initialised model.
  /// - Throws: `ConfigurationError` if the configuration is not supported or has no `projection_dim`.
  public init(configuration: CLIPTextConfiguration) throws {
    textModel = try CLIPTextModel(configuration: configuration)
    guard let width = configuration.projectionDim, width > 0 else {
      throw ConfigurationError.missingField(file: "text_encoder_2/config.json", field: "projection_dim")
    }
    textProjection = Linear(inputCount: configuration.hiddenSize, outputCount: width, bias: false)
  }

  /// The configuration the model was built from.
  public var configuration: CLIPTextConfiguration { textModel.configuration }

  /// Registers the text model's parameters and `text_projection`.
  public func registerParameters(in registry: ParameterRegistry) {
    textModel.registerParameters(in: registry)
    registry.child("text_projection", textProjection)
  }

  /// The text model's outputs with the pooled output projected (`text_embeds`, `[B, projection_dim]`).
  /// - Parameter tokenIDs: `B` rows of token ids.
  public func encode(_ tokenIDs: [[Int]]) -> CLIPTextModel.Output {
    var output = textModel.encode(tokenIDs)
    output.pooled = textProjection(output.pooled)
    return output
  }
}
