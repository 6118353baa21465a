import Networks

/// The small built-in model `bld` uses when no `--model` folder is given.
///
/// Its weights are **random**, generated deterministically in code from a fixed seed (nothing is downloaded
/// or committed), so it demonstrates the mechanics — the mask is respected, `paste` keeps every outside
/// pixel, seeds reproduce — not real edits. Shapes: an SD-2-like UNet with two resolutions
/// (32/64 channels), a VAE with the real downsampling factor 8 (32–64 channels), a 2-layer text encoder
/// over a byte-level vocabulary (`CLIPTokenizer.byteLevel()`), and diffusers' Stable Diffusion scheduler
/// defaults. Native resolution 256×256 (32×32 latents).
public enum DemonstrationModel {
  /// The image side the demonstration model is meant for.
  public static let nativeResolution = 256
  /// The seed its weights are generated from.
  public static let weightSeed: UInt64 = 20_230_801

  /// The text encoder's configuration (byte-level vocabulary of 514 ids).
  public static let textEncoderConfiguration = CLIPTextConfiguration(
    vocabSize: 514, hiddenSize: 32, intermediateSize: 64, numAttentionHeads: 4, numHiddenLayers: 2,
    hiddenAct: "quick_gelu")

  /// The VAE's configuration: four resolutions (factor 8), 32–64 channels.
  public static let vaeConfiguration = AutoencoderKLConfiguration(
    blockOutChannels: [32, 32, 64, 64], layersPerBlock: 1, normNumGroups: 8, sampleSize: nativeResolution)

  /// The UNet's configuration (`UNetConfiguration.tiny` at 32×32 latents).
  public static var unetConfiguration: UNetConfiguration {
    var configuration = UNetConfiguration.tiny
    configuration.sampleSize = nativeResolution / 8
    return configuration
  }

  /// Builds the model with its deterministic random weights.
  public static func make() -> StableDiffusionModel {
    do {
      return try StableDiffusionModel(
        randomWeights: textEncoderConfiguration, unet: unetConfiguration, vae: vaeConfiguration,
        tokenizer: .byteLevel(), seed: weightSeed)
    } catch {
      preconditionFailure("the demonstration configurations are valid by construction: \(error)")
    }
  }
}
