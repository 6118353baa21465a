import Foundation
import TensorCore

/// The tokenizer and three networks of a Stable Diffusion 1.x / 2.x model, loaded from a diffusers folder with
/// no conversion step, or built with deterministic random weights.
///
/// The networks are reference types treated as read-only after loading (except for deliberate fine-tuning of
/// `vae.decoder`); the model is not `Sendable`.
public final class StableDiffusionModel: Sendable {
  /// The prompt tokenizer (`tokenizer/`; for random-weight models, the one given or the byte-level tokenizer).
  public let tokenizer: CLIPTokenizer
  /// The text encoder.
  public let textEncoder: CLIPTextModel
  /// The noise predictor.
  public let unet: UNet2DConditionModel
  /// The VAE.
  public let vae: AutoencoderKL
  /// The folder the model was loaded from, if any.
  public let directory: ModelDirectory?
  /// One load report per component (`text_encoder`, `unet`, `vae`); empty for random weights.
  public let loadReports: [String: LoadReport]

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
  ///   `WeightLoadingError` for missing files and missing, unused or mis-shaped tensors.
  public init(directory: ModelDirectory, residency: WeightResidency = .mappedFile) throws(ModelLoadingError) {
    let folder = directory.root.path
    func loading<T>(_ component: String?, _ body: () throws -> T) throws(ModelLoadingError) -> T {
      do { return try body() } catch { throw .wrapping(error, folder: folder, component: component) }
    }
    try loading(nil) {
      let index = try ModelIndex.decode(contentsOf: directory.modelIndex)
      try index.validateStableDiffusion(file: directory.modelIndex.path)
    }
    let tokenizer = try loading("tokenizer") { try CLIPTokenizer(directory: directory.tokenizerDirectory) }
    let textEncoder = try loading("text_encoder") {
      let configuration = try CLIPTextConfiguration.decode(contentsOf: directory.textEncoderConfiguration)
      try Self.checkCompatibility(of: tokenizer, with: configuration, file: directory.textEncoderConfiguration.path)
      return try CLIPTextModel(configuration: configuration)
    }
    let unet = try loading("unet") {
      try UNet2DConditionModel(configuration: UNetConfiguration.decode(contentsOf: directory.unetConfiguration))
    }
    let vae = try loading("vae") {
      try AutoencoderKL(configuration: AutoencoderKLConfiguration.decode(contentsOf: directory.vaeConfiguration))
    }
    var reports: [String: LoadReport] = [:]
    reports["text_encoder"] = try loading("text_encoder") {
      try WeightLoader.load(
        directory.textEncoderWeights(), into: textEncoder, renaming: .clipTextModel, residency: residency)
    }
    reports["unet"] = try loading("unet") {
      try WeightLoader.load(directory.unetWeights(), into: unet, residency: residency)
    }
    reports["vae"] = try loading("vae") {
      try WeightLoader.load(directory.vaeWeights(), into: vae, renaming: .autoencoderKL, residency: residency)
    }
    self.tokenizer = tokenizer
    self.textEncoder = textEncoder
    self.unet = unet
    self.vae = vae
    loadReports = reports
    self.directory = directory
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
  public init(
    randomWeights textEncoderConfiguration: CLIPTextConfiguration,
    unet unetConfiguration: UNetConfiguration,
    vae vaeConfiguration: AutoencoderKLConfiguration, tokenizer: CLIPTokenizer = .byteLevel(), seed: UInt64
  ) throws(ModelLoadingError) {
    func building<T>(_ component: String, _ body: () throws -> T) throws(ModelLoadingError) -> T {
      do { return try body() } catch { throw .wrapping(error, folder: nil, component: component) }
    }
    try building("text_encoder") {
      try Self.checkCompatibility(of: tokenizer, with: textEncoderConfiguration, file: "text_encoder/config.json")
    }
    self.tokenizer = tokenizer
    for width in unetConfiguration.resolvedCrossAttentionWidths
    where width != textEncoderConfiguration.hiddenSize {
      throw ModelLoadingError(
        folder: nil, component: "unet",
        cause: .configuration(
          .invalid(
            file: "unet/config.json", field: "cross_attention_dim",
            reason: "\(width) differs from the text encoder's hidden_size \(textEncoderConfiguration.hiddenSize)")))
    }
    textEncoder = try building("text_encoder") { try CLIPTextModel(configuration: textEncoderConfiguration) }
    unet = try building("unet") { try UNet2DConditionModel(configuration: unetConfiguration) }
    vae = try building("vae") { try AutoencoderKL(configuration: vaeConfiguration) }
    textEncoder.initializeParametersRandomly(seed: seed)
    unet.initializeParametersRandomly(seed: seed &+ 1)
    vae.initializeParametersRandomly(seed: seed &+ 2)
    directory = nil
    loadReports = [:]
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
