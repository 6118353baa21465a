import Foundation

/// What a Stable Diffusion model's networks are built from before any weight is read: the three network
/// configurations, the tokenizer and the scheduler configuration file — from a diffusers folder, or embedded in the
/// package for a single-file checkpoint's family (``embedded(for:predictionType:)``).
public struct ModelConfigurations: Sendable {
  /// The text encoder's configuration.
  public var textEncoder: CLIPTextConfiguration
  /// The UNet's configuration.
  public var unet: UNetConfiguration
  /// The VAE's configuration.
  public var vae: AutoencoderKLConfiguration
  /// The prompt tokenizer.
  public var tokenizer: CLIPTokenizer
  /// SDXL's second text encoder (`CLIPTextModelWithProjection`), or nil.
  public var secondTextEncoder: CLIPTextConfiguration?
  /// SDXL's second tokenizer, or nil.
  public var secondTokenizer: CLIPTokenizer?
  /// Whether an empty negative prompt is encoded as zeros (SDXL's `force_zeros_for_empty_prompt`).
  public var forcesZerosForEmptyPrompt: Bool
  /// The scheduler configuration (`scheduler/scheduler_config.json`), decoded by the editor; `nil` for networks
  /// built in code, whose editor uses diffusers' Stable Diffusion defaults.
  public var schedulerConfigurationFile: URL?

  /// Creates configurations from their parts.
  public init(
    textEncoder: CLIPTextConfiguration, unet: UNetConfiguration, vae: AutoencoderKLConfiguration,
    tokenizer: CLIPTokenizer, schedulerConfigurationFile: URL? = nil, secondTextEncoder: CLIPTextConfiguration? = nil,
    secondTokenizer: CLIPTokenizer? = nil, forcesZerosForEmptyPrompt: Bool = false
  ) {
    self.textEncoder = textEncoder
    self.unet = unet
    self.vae = vae
    self.tokenizer = tokenizer
    self.schedulerConfigurationFile = schedulerConfigurationFile
    self.secondTextEncoder = secondTextEncoder
    self.secondTokenizer = secondTokenizer
    self.forcesZerosForEmptyPrompt = forcesZerosForEmptyPrompt
  }

  /// Reads the configurations and tokenizers of a diffusers folder (`model_index.json`, `*/config.json`,
  /// `tokenizer/`, and for SDXL `text_encoder_2/`, `tokenizer_2/`); its weight files are not needed (diffusers'
  /// `from_single_file(config=…)` reads the same).
  /// - Throws: ``ModelLoadingError`` naming the folder and component: `ConfigurationError` for an unreadable or
  ///   unsupported configuration (also a tokenizer that does not fit the text encoder), `TokenizerError` for a
  ///   missing or malformed `tokenizer/` folder.
  public init(directory: ModelDirectory) throws(ModelLoadingError) {
    let folder = directory.root.path
    func loading<T>(_ component: String?, _ body: () throws -> T) throws(ModelLoadingError) -> T {
      do { return try body() } catch { throw .wrapping(error, folder: folder, component: component) }
    }
    let index = try loading(nil) {
      let index = try ModelIndex.decode(contentsOf: directory.modelIndex)
      try index.validateStableDiffusion(file: directory.modelIndex.path)
      return index
    }
    tokenizer = try loading("tokenizer") { try CLIPTokenizer(directory: directory.tokenizerDirectory) }
    textEncoder = try loading("text_encoder") {
      try CLIPTextConfiguration.decode(contentsOf: directory.textEncoderConfiguration)
    }
    unet = try loading("unet") { try UNetConfiguration.decode(contentsOf: directory.unetConfiguration) }
    vae = try loading("vae") { try AutoencoderKLConfiguration.decode(contentsOf: directory.vaeConfiguration) }
    schedulerConfigurationFile = directory.schedulerConfiguration
    if index.isStableDiffusionXL {
      secondTokenizer = try loading("tokenizer_2") { try CLIPTokenizer(directory: directory.secondTokenizerDirectory) }
      secondTextEncoder = try loading("text_encoder_2") {
        try CLIPTextConfiguration.decode(contentsOf: directory.secondTextEncoderConfiguration)
      }
      forcesZerosForEmptyPrompt = index.forceZerosForEmptyPrompt ?? true
    } else {
      (secondTokenizer, secondTextEncoder, forcesZerosForEmptyPrompt) = (nil, nil, false)
    }
    let (tokenizer, textEncoder) = (tokenizer, textEncoder)
    try loading("text_encoder") {
      try StableDiffusionModel.checkCompatibility(
        of: tokenizer, with: textEncoder, file: directory.textEncoderConfiguration.path)
    }
    if let secondTokenizer, let secondTextEncoder {
      try loading("text_encoder_2") {
        try StableDiffusionModel.checkCompatibility(
          of: secondTokenizer, with: secondTextEncoder, file: directory.secondTextEncoderConfiguration.path)
      }
    }
  }

  /// The width of the UNet's text context: the text encoder's hidden size, or for SDXL the two encoders' together.
  public var contextWidth: Int { textEncoder.hiddenSize + (secondTextEncoder?.hiddenSize ?? 0) }

  /// The published configurations of a family, shipped with the package (`Resources/Configurations/`: diffusers'
  /// `stable-diffusion-v1-5` and `stable-diffusion-2-1-base`), adjusted to the checkpoint: 9 UNet input channels
  /// for inpainting models, and 768 pixels (`sample_size` 96) for v-prediction SD 2.x models, as
  /// `stable-diffusion-2-1` has. The tokenizer is OpenAI CLIP's vocabulary with the family's special tokens.
  /// - Parameters:
  ///   - family: the checkpoint's family.
  ///   - predictionType: the UNet's prediction type.
  /// - Throws: ``ModelLoadingError`` (no folder) when the family has no embedded configuration (SDXL) or a shipped
  ///   file is missing (a broken installation).
  public static func embedded(for family: CheckpointFamily, predictionType: PredictionType) throws(ModelLoadingError)
    -> ModelConfigurations
  {
    let name: String
    let flavor: CLIPTokenizer.OpenAICLIPFlavor
    switch family.generation {
    case .stableDiffusion1: (name, flavor) = ("stable-diffusion-1", .clipViTL)
    case .stableDiffusion2: (name, flavor) = ("stable-diffusion-2", .openCLIP)
    case .stableDiffusionXL:
      throw ModelLoadingError(
        folder: nil, component: nil,
        cause: .configuration(
          .unsupported(file: "embedded configurations", field: "family", value: family.generation.rawValue)))
    }
    func resource(_ path: String) throws -> URL {
      guard let root = Bundle.module.url(forResource: "Configurations", withExtension: nil) else {
        throw ConfigurationError.unreadable(file: "Configurations/\(path)", reason: "missing from the package")
      }
      return root.appendingPathComponent(path)
    }
    func loading<T>(_ component: String?, _ body: () throws -> T) throws(ModelLoadingError) -> T {
      do { return try body() } catch { throw .wrapping(error, folder: nil, component: component) }
    }
    let tokenizer = try loading("tokenizer") { try CLIPTokenizer.openAICLIP(flavor) }
    let textEncoder = try loading("text_encoder") {
      try CLIPTextConfiguration.decode(contentsOf: resource("\(name)/text_encoder.json"))
    }
    var unet = try loading("unet") { try UNetConfiguration.decode(contentsOf: resource("\(name)/unet.json")) }
    var vae = try loading("vae") { try AutoencoderKLConfiguration.decode(contentsOf: resource("\(name)/vae.json")) }
    let scheduler = try loading("scheduler") { try resource("scheduler.json") }
    unet.inChannels = family.unetInputChannels
    if family.generation == .stableDiffusion2 && predictionType == .vPrediction {
      unet.sampleSize = 96
      vae.sampleSize = 768
    }
    return ModelConfigurations(
      textEncoder: textEncoder, unet: unet, vae: vae, tokenizer: tokenizer, schedulerConfigurationFile: scheduler)
  }
}
