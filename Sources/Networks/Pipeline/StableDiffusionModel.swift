import Foundation
import TensorCore

/// The tokenizer and three networks of a Stable Diffusion 1.x / 2.x model, loaded with no conversion step from a
/// diffusers folder or a single-file checkpoint (``init(checkpoint:configurations:predictionType:residency:)``), or
/// built with deterministic random weights.
///
/// The networks are reference types treated as read-only after loading (except for deliberate fine-tuning of
/// `vae.decoder`).
public final class StableDiffusionModel: Sendable {
  /// The prompt tokenizer (`tokenizer/`; for random-weight models, the one given or the byte-level tokenizer).
  public let tokenizer: CLIPTokenizer
  /// The text encoder.
  public let textEncoder: CLIPTextModel
  /// The noise predictor.
  public let unet: UNet2DConditionModel
  /// The VAE.
  public let vae: AutoencoderKL
  /// SDXL's second text encoder (OpenCLIP ViT-bigG with its projection), or nil.
  public let secondTextEncoder: CLIPTextModelWithProjection?
  /// SDXL's second tokenizer, or nil.
  public let secondTokenizer: CLIPTokenizer?
  /// Whether an empty negative prompt is encoded as zeros (SDXL's `force_zeros_for_empty_prompt`).
  public let forcesZerosForEmptyPrompt: Bool
  /// The folder the model was loaded from, if any.
  public let directory: ModelDirectory?
  /// The single-file checkpoint the model was loaded from, if any.
  public let checkpoint: SingleFileCheckpoint?
  /// The scheduler configuration that goes with the model (the folder's, or the embedded one of a single file's
  /// family); `nil` for random weights.
  public let schedulerConfigurationFile: URL?
  /// The UNet's prediction type when the loader decided it (single files: given, declared in the file's metadata,
  /// or probed); `nil` when the scheduler configuration says it.
  public let predictionType: PredictionType?
  /// One load report per component (`text_encoder`, `unet`, `vae`); empty for random weights.
  public let loadReports: [String: LoadReport]

  /// The networks a set of configurations describes.
  struct Networks {
    var tokenizer: CLIPTokenizer
    var textEncoder: CLIPTextModel
    var unet: UNet2DConditionModel
    var vae: AutoencoderKL
    var secondTextEncoder: CLIPTextModelWithProjection?
    var secondTokenizer: CLIPTokenizer?
    var forcesZerosForEmptyPrompt: Bool
  }

  init(
    networks: Networks,
    directory: ModelDirectory? = nil, checkpoint: SingleFileCheckpoint? = nil, schedulerConfigurationFile: URL? = nil,
    predictionType: PredictionType? = nil, loadReports: [String: LoadReport] = [:]
  ) {
    (tokenizer, textEncoder, unet, vae) = (networks.tokenizer, networks.textEncoder, networks.unet, networks.vae)
    (secondTextEncoder, secondTokenizer) = (networks.secondTextEncoder, networks.secondTokenizer)
    forcesZerosForEmptyPrompt = networks.forcesZerosForEmptyPrompt
    self.directory = directory
    self.checkpoint = checkpoint
    self.schedulerConfigurationFile = schedulerConfigurationFile
    self.predictionType = predictionType
    self.loadReports = loadReports
  }

  /// Loads every network of a diffusers folder strictly.
  /// - Parameters:
  ///   - directory: the folder (and weight variant preference).
  ///   - residency: where the weights live: left in the memory-mapped files and paged in per layer (the
  ///     default; a 512×512 SD 1.5 edit then peaks near the VAE decode's activations rather than at weights plus
  ///     activations — the files must not be modified while the model lives), or copied into memory.
  /// - Throws: ``ModelLoadingError`` naming the folder and component, with the cause as a value:
  ///   `ConfigurationError` for an unreadable or unsupported configuration (including `model_index.json`, and a
  ///   tokenizer with more ids than the text encoder's `vocab_size` or longer sequences than its
  ///   `max_position_embeddings`), `TokenizerError` for a missing or malformed `tokenizer/` folder,
  ///   `WeightLoadingError` for missing files and missing, unused or mis-shaped tensors; before any network is
  ///   allocated, `ConfigurationError.contradictedByWeights` when a configuration number (`block_out_channels`,
  ///   `cross_attention_dim`, `hidden_size`, `num_hidden_layers`, …) disagrees with a tensor shape in the weight
  ///   files' headers, naming the field, the tensor and both shapes.
  public convenience init(directory: ModelDirectory, residency: WeightResidency = .mappedFile)
    throws(ModelLoadingError)
  {
    let folder = directory.root.path
    func loading<T>(_ component: String?, _ body: () throws -> T) throws(ModelLoadingError) -> T {
      do { return try body() } catch { throw .wrapping(error, folder: folder, component: component) }
    }
    let configurations = try ModelConfigurations(directory: directory)
    // The configurations' numbers against the weights' header shapes, before anything is allocated.
    try ConfigurationWeightCheck.check(configurations, directory: directory)
    let networks = try Self.networks(for: configurations, folder: folder)
    var reports: [String: LoadReport] = [:]
    reports["text_encoder"] = try loading("text_encoder") {
      try WeightLoader.load(
        directory.textEncoderWeights(), into: networks.textEncoder, renaming: .clipTextModel, residency: residency)
    }
    if let second = networks.secondTextEncoder {
      reports["text_encoder_2"] = try loading("text_encoder_2") {
        try WeightLoader.load(directory.secondTextEncoderWeights(), into: second, residency: residency)
      }
    }
    reports["unet"] = try loading("unet") {
      try WeightLoader.load(directory.unetWeights(), into: networks.unet, residency: residency)
    }
    reports["vae"] = try loading("vae") {
      try WeightLoader.load(
        directory.vaeWeights(), into: networks.vae, renaming: .autoencoderKL, residency: residency)
    }
    self.init(
      networks: networks, directory: directory, schedulerConfigurationFile: directory.schedulerConfiguration,
      loadReports: reports)
  }

  /// Builds the networks a set of configurations describes, with unloaded (zero) weights.
  /// - Throws: ``ModelLoadingError`` naming `folder` and the component whose configuration is not supported, or
  ///   `unet` when its `cross_attention_dim` differs from the text encoder's `hidden_size`.
  static func networks(for configurations: ModelConfigurations, folder: String?) throws(ModelLoadingError)
    -> Networks
  {
    func building<T>(_ component: String, _ body: () throws -> T) throws(ModelLoadingError) -> T {
      do { return try body() } catch { throw .wrapping(error, folder: folder, component: component) }
    }
    func invalid(_ field: String, _ reason: String) -> ModelLoadingError {
      ModelLoadingError(
        folder: folder, component: "unet",
        cause: .configuration(.invalid(file: "unet/config.json", field: field, reason: reason)))
    }
    for width in configurations.unet.resolvedCrossAttentionWidths where width != configurations.contextWidth {
      let encoders =
        configurations.secondTextEncoder == nil ? "text encoder's hidden_size" : "text encoders' hidden sizes"
      throw invalid("cross_attention_dim", "\(width) differs from the \(encoders) \(configurations.contextWidth)")
    }
    if let pooled = configurations.unet.pooledTextWidth, pooled != configurations.secondTextEncoder?.projectionDim {
      throw invalid(
        "projection_class_embeddings_input_dim",
        "its pooled text width \(pooled) is not the second text encoder's projection_dim")
    }
    return Networks(
      tokenizer: configurations.tokenizer,
      textEncoder: try building("text_encoder") { try CLIPTextModel(configuration: configurations.textEncoder) },
      unet: try building("unet") { try UNet2DConditionModel(configuration: configurations.unet) },
      vae: try building("vae") { try AutoencoderKL(configuration: configurations.vae) },
      secondTextEncoder: try configurations.secondTextEncoder.map { configuration throws(ModelLoadingError) in
        try building("text_encoder_2") { try CLIPTextModelWithProjection(configuration: configuration) }
      },
      secondTokenizer: configurations.secondTokenizer,
      forcesZerosForEmptyPrompt: configurations.forcesZerosForEmptyPrompt)
  }

  /// Builds the three networks from configurations with deterministic pseudo-random weights
  /// (see `Layer.initializeParametersRandomly(seed:)`); each network gets its own seed derived from `seed`.
  /// - Parameters:
  ///   - textEncoderConfiguration: the text encoder's configuration.
  ///   - unetConfiguration: the UNet's configuration.
  ///   - vaeConfiguration: the VAE's configuration.
  ///   - tokenizer: the prompt tokenizer (default: the byte-level tokenizer, `CLIPTokenizer.byteLevel()`).
  ///   - seed: the weight seed.
  /// - Throws: ``ModelLoadingError`` (no folder) with a `ConfigurationError` if a configuration is not
  ///   supported, if the UNet's `cross_attention_dim` differs from the text encoder's `hidden_size`, or if the
  ///   tokenizer does not fit the text encoder (`vocab_size`, `max_position_embeddings`).
  public convenience init(
    randomWeights textEncoderConfiguration: CLIPTextConfiguration,
    unet unetConfiguration: UNetConfiguration,
    vae vaeConfiguration: AutoencoderKLConfiguration, tokenizer: CLIPTokenizer = .byteLevel(), seed: UInt64
  ) throws(ModelLoadingError) {
    do {
      try Self.checkCompatibility(of: tokenizer, with: textEncoderConfiguration, file: "text_encoder/config.json")
    } catch {
      throw .wrapping(error, folder: nil, component: "text_encoder")
    }
    let configurations = ModelConfigurations(
      textEncoder: textEncoderConfiguration, unet: unetConfiguration, vae: vaeConfiguration, tokenizer: tokenizer)
    let networks = try Self.networks(for: configurations, folder: nil)
    networks.textEncoder.initializeParametersRandomly(seed: seed)
    networks.unet.initializeParametersRandomly(seed: seed &+ 1)
    networks.vae.initializeParametersRandomly(seed: seed &+ 2)
    self.init(networks: networks)
  }

  /// Checks that every id the tokenizer can produce has a token embedding and that its sequence length fits
  /// the position embeddings.
  /// - Throws: `ConfigurationError.invalid` naming `vocab_size` or `max_position_embeddings` of `file`.
  static func checkCompatibility(
    of tokenizer: CLIPTokenizer, with configuration: CLIPTextConfiguration, file: String
  ) throws {
    guard tokenizer.vocabularySize <= configuration.vocabSize else {
      throw ConfigurationError.invalid(
        file: file, field: "vocab_size",
        reason:
          "\(configuration.vocabSize) is smaller than the tokenizer's \(tokenizer.vocabularySize) ids"
      )
    }
    guard tokenizer.maxLength <= configuration.maxPositionEmbeddings else {
      throw ConfigurationError.invalid(
        file: file, field: "max_position_embeddings",
        reason:
          "\(configuration.maxPositionEmbeddings) positions for the tokenizer's \(tokenizer.maxLength) tokens"
      )
    }
  }

  /// The text encoder's last hidden state for each prompt (the UNet's `encoderHiddenStates`).
  /// - Parameter prompts: `B` prompts, tokenised to the tokenizer's fixed length (77).
  /// - Returns: `[B, 77, hidden_size]`.
  public func textEmbeddings(for prompts: [String]) -> Tensor {
    textEncoder(prompts.map { tokenizer.encode($0).ids })
  }
}
