import Foundation

/// The file layout of a diffusers Stable Diffusion folder, with no conversion step:
///
/// ```
/// model_index.json
/// text_encoder/{config.json, model[.fp16].safetensors | model.safetensors.index.json + shards}
/// tokenizer/{vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json}
/// unet/{config.json, diffusion_pytorch_model[.fp16].safetensors | ….safetensors.index.json + shards}
/// vae/{config.json, diffusion_pytorch_model[.fp16].safetensors | …}
/// scheduler/scheduler_config.json
/// ```
///
/// SDXL folders also have `text_encoder_2/` (`CLIPTextModelWithProjection`) and `tokenizer_2/`.
public struct ModelDirectory: Sendable, Equatable {
  /// The folder.
  public let root: URL
  /// The weight variant to prefer (`"fp16"` for `*.fp16.safetensors`), or nil for the full-precision files,
  /// falling back to the `fp16` variant when those are absent.
  public let variant: String?

  /// A model folder at `root`.
  public init(root: URL, variant: String? = nil) {
    self.root = root
    self.variant = variant
  }

  /// `model_index.json`.
  public var modelIndex: URL { root.appendingPathComponent("model_index.json") }
  /// `text_encoder/`.
  public var textEncoderDirectory: URL {
    root.appendingPathComponent("text_encoder", isDirectory: true)
  }
  /// `text_encoder/config.json`.
  public var textEncoderConfiguration: URL {
    textEncoderDirectory.appendingPathComponent("config.json")
  }
  /// `text_encoder_2/` (SDXL).
  public var secondTextEncoderDirectory: URL { root.appendingPathComponent("text_encoder_2", isDirectory: true) }
  /// `text_encoder_2/config.json` (SDXL).
  public var secondTextEncoderConfiguration: URL { secondTextEncoderDirectory.appendingPathComponent("config.json") }
  /// `tokenizer_2/` (SDXL).
  public var secondTokenizerDirectory: URL { root.appendingPathComponent("tokenizer_2", isDirectory: true) }
  /// `tokenizer/`.
  public var tokenizerDirectory: URL { root.appendingPathComponent("tokenizer", isDirectory: true) }
  /// `tokenizer/vocab.json`.
  public var tokenizerVocabulary: URL { tokenizerDirectory.appendingPathComponent("vocab.json") }
  /// `tokenizer/merges.txt`.
  public var tokenizerMerges: URL { tokenizerDirectory.appendingPathComponent("merges.txt") }
  /// `unet/`.
  public var unetDirectory: URL { root.appendingPathComponent("unet", isDirectory: true) }
  /// `unet/config.json`.
  public var unetConfiguration: URL { unetDirectory.appendingPathComponent("config.json") }
  /// `vae/`.
  public var vaeDirectory: URL { root.appendingPathComponent("vae", isDirectory: true) }
  /// `vae/config.json`.
  public var vaeConfiguration: URL { vaeDirectory.appendingPathComponent("config.json") }
  /// `scheduler/scheduler_config.json`.
  public var schedulerConfiguration: URL {
    root.appendingPathComponent("scheduler", isDirectory: true).appendingPathComponent(
      "scheduler_config.json")
  }

  /// The text encoder's weight files.
  /// - Throws: `WeightLoadingError.missingFile` or `.malformedIndex`.
  public func textEncoderWeights() throws -> WeightFiles {
    try weights(in: textEncoderDirectory, baseName: "model", component: "text_encoder")
  }

  /// The second text encoder's weight files (SDXL).
  /// - Throws: `WeightLoadingError.missingFile` or `.malformedIndex`.
  public func secondTextEncoderWeights() throws -> WeightFiles {
    try weights(in: secondTextEncoderDirectory, baseName: "model", component: "text_encoder_2")
  }

  /// The UNet's weight files.
  /// - Throws: `WeightLoadingError.missingFile` or `.malformedIndex`.
  public func unetWeights() throws -> WeightFiles {
    try weights(in: unetDirectory, baseName: "diffusion_pytorch_model", component: "unet")
  }

  /// The VAE's weight files.
  /// - Throws: `WeightLoadingError.missingFile` or `.malformedIndex`.
  public func vaeWeights() throws -> WeightFiles {
    try weights(in: vaeDirectory, baseName: "diffusion_pytorch_model", component: "vae")
  }

  /// Resolves `baseName[.variant].safetensors` or its sharded index, in the order of `variant`'s preference.
  func weights(in directory: URL, baseName: String, component: String) throws -> WeightFiles {
    let variants: [String?] = variant.map { [$0] } ?? [nil, "fp16"]
    var tried: [String] = []
    let fileManager = FileManager.default
    for candidate in variants {
      let single = candidate.map { "\(baseName).\($0).safetensors" } ?? "\(baseName).safetensors"
      let index =
        candidate.map { "\(baseName).safetensors.index.\($0).json" }
        ?? "\(baseName).safetensors.index.json"
      tried += [single, index]
      let singleURL = directory.appendingPathComponent(single)
      if fileManager.fileExists(atPath: singleURL.path) { return WeightFiles(file: singleURL) }
      let indexURL = directory.appendingPathComponent(index)
      if fileManager.fileExists(atPath: indexURL.path) { return try WeightFiles(index: indexURL) }
    }
    throw WeightLoadingError.missingFile(
      component: component, directory: directory.path, tried: tried)
  }
}
