import Foundation
import TensorCore

/// transformers' `CLIPModel`: a text tower and a vision tower whose pooled outputs are projected (without
/// bias) into one embedding space, where the cosine similarity of an image and a text measures how well they
/// match.
///
/// Checkpoint keys: `text_model.…` (see ``CLIPTextModel``), `vision_model.…` (see ``CLIPVisionModel``),
/// `text_projection.weight` `[projection_dim, text hidden]`, `visual_projection.weight`
/// `[projection_dim, vision hidden]`, `logit_scale` (a scalar). The buffers `text_model.embeddings.position_ids`
/// and `vision_model.embeddings.position_ids`, which older checkpoints carry, are skipped.
///
/// Matches: transformers 5 `CLIPModel.get_image_features(pixel_values)` and
/// `CLIPModel.get_text_features(input_ids)` (without attention mask; padding after the end token does not
/// change the pooled output because the text attention is causal).
/// Limitations: square inputs of exactly `image_size` only; no attention mask for the text.
public final class CLIPModel: Layer, @unchecked Sendable {
  /// The configuration the model was built from.
  public let configuration: CLIPModelConfiguration
  /// The text tower.
  public let textModel: CLIPTextModel
  /// The vision tower.
  public let visionModel: CLIPVisionModel
  let textProjection: Linear
  let visualProjection: Linear
  /// The learned temperature (a scalar, `[]`): CLIP's logits are `exp(logitScale) · cos`.
  public var logitScale: Tensor
  /// What loading the weights did; nil for a model built from a configuration.
  public private(set) var loadReport: LoadReport?

  /// Checkpoint buffers that no layer needs.
  public static let ignoredKeys: Set<String> = WeightLoader.defaultIgnoredKeys.union([
    "vision_model.embeddings.position_ids"
  ])

  /// Creates a zero-initialised model (`logitScale` = `logit_scale_init_value`).
  /// - Parameter configuration: the configuration.
  /// - Throws: `ConfigurationError` if the configuration is not supported.
  public init(configuration: CLIPModelConfiguration) throws {
    try configuration.validate()
    self.configuration = configuration
    textModel = try CLIPTextModel(configuration: configuration.textConfiguration)
    visionModel = try CLIPVisionModel(configuration: configuration.visionConfiguration)
    textProjection = Linear(
      inputCount: configuration.textConfiguration.hiddenSize,
      outputCount: configuration.projectionDim, bias: false)
    visualProjection = Linear(
      inputCount: configuration.visionConfiguration.hiddenSize,
      outputCount: configuration.projectionDim, bias: false)
    logitScale = Tensor(configuration.logitScaleInitValue)
  }

  /// Loads a transformers `CLIPModel` folder strictly: `config.json` and `model.safetensors` (or a sharded
  /// `model.safetensors.index.json`, or the `fp16` variants of either); F16 and BF16 weights stay in their
  /// dtype and are widened per use. Tokenizer files in the folder are not read here (see
  /// ``CLIPTokenizer/init(directory:)``).
  /// - Parameters:
  ///   - directory: the folder.
  ///   - residency: where the weights live (default: left in the mapped files and paged in per layer).
  /// - Throws: `ConfigurationError` for a missing, unreadable or unsupported `config.json`;
  ///   `WeightLoadingError` for missing weight files (a folder with only `pytorch_model.bin` included) and
  ///   for missing, unused, mis-shaped or unreadable tensors.
  public convenience init(directory: URL, residency: WeightResidency = .mappedFile) throws {
    let configuration = try CLIPModelConfiguration.decode(
      contentsOf: directory.appendingPathComponent("config.json"))
    try self.init(configuration: configuration)
    loadReport = try WeightLoader.load(
      Self.weightFiles(in: directory), into: self, ignoredKeys: Self.ignoredKeys, residency: residency)
  }

  /// The weight files of a `CLIPModel` folder: `model.safetensors`, `model.safetensors.index.json`,
  /// `model.fp16.safetensors` or `model.safetensors.index.fp16.json`, the first that exists.
  /// - Parameter directory: the folder.
  /// - Returns: the files.
  /// - Throws: `WeightLoadingError.missingFile` (listing the names tried) or `.malformedIndex`.
  public static func weightFiles(in directory: URL) throws -> WeightFiles {
    try ModelDirectory(root: directory).weights(
      in: directory, baseName: "model", component: "CLIP model")
  }

  /// Registers `text_model.…`, `vision_model.…`, both projections and `logit_scale`.
  public func registerParameters(in registry: ParameterRegistry) {
    textModel.registerParameters(in: registry)
    visionModel.registerParameters(in: registry)
    registry.child("visual_projection", visualProjection)
    registry.child("text_projection", textProjection)
    registry.tensor("logit_scale", of: self, \.logitScale)
  }

  /// Image embeddings: `visual_projection(post_layernorm(class token))` (not normalised).
  /// - Parameter pixelValues: `[B, 3, image_size, image_size]`, CLIP-normalised.
  /// - Returns: `[B, projection_dim]`.
  public func imageFeatures(_ pixelValues: Tensor) -> Tensor {
    visualProjection(visionModel(pixelValues).pooledOutput)
  }

  /// Text embeddings: `text_projection` of the final hidden state at each row's pooled position
  /// (see ``pooledTokenPositions(for:)``), not normalised.
  /// - Parameter tokenIDs: `B` rows of `T ≤ max_position_embeddings` ids in `0..<vocab_size`.
  /// - Returns: `[B, projection_dim]`.
  public func textFeatures(_ tokenIDs: [[Int]]) -> Tensor {
    let hidden = textModel(tokenIDs)  // [B, T, D]
    let (length, width) = (hidden.shape[1], hidden.shape[2])
    let positions = pooledTokenPositions(for: tokenIDs)
    let pooled = Tensor(shape: [tokenIDs.count, width]) { out in
      hidden.withUnsafeBufferPointer { source in
        for (row, position) in positions.enumerated() {
          (out.baseAddress! + row * width).update(
            from: source.baseAddress! + (row * length + position) * width, count: width)
        }
      }
    }
    return textProjection(pooled)
  }

  /// Where transformers' `CLIPTextTransformer` pools each row of token ids.
  ///
  /// With `eos_token_id == 2` (configurations written before transformers PR #24773, such as OpenAI's):
  /// the position of the largest id (the first one on ties; CLIP's end token 49407 is the largest id of its
  /// vocabulary). Otherwise: the first position holding `eos_token_id`, or 0 when a row has none.
  /// - Parameter tokenIDs: rows of token ids.
  /// - Returns: one position per row.
  public func pooledTokenPositions(for tokenIDs: [[Int]]) -> [Int] {
    tokenIDs.map { row in
      if configuration.usesLegacyPooling {
        guard let largest = row.max() else { return 0 }
        return row.firstIndex(of: largest) ?? 0
      }
      return row.firstIndex(of: configuration.eosTokenID) ?? 0
    }
  }
}
