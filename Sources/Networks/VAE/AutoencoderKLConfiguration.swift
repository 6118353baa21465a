import Foundation
import TensorCore

/// The configuration of diffusers' `AutoencoderKL` (`vae/config.json`).
///
/// Property names are the camelCase forms of the JSON keys; optional ones take diffusers' defaults.
public struct AutoencoderKLConfiguration: Codable, Sendable, Equatable {
  /// Image channels (3).
  public var inChannels: Int
  /// Decoded image channels (3).
  public var outChannels: Int
  /// All `DownEncoderBlock2D`.
  public var downBlockTypes: [String]
  /// All `UpDecoderBlock2D`.
  public var upBlockTypes: [String]
  /// Channels per resolution, highest resolution first.
  public var blockOutChannels: [Int]
  /// ResNets per encoder block (decoder blocks have one more; default 1).
  public var layersPerBlock: Int?
  /// `silu` (default), `swish` or `gelu`.
  public var actFn: String?
  /// Latent channels (default 4).
  public var latentChannels: Int?
  /// Group-norm groups (default 32).
  public var normNumGroups: Int?
  /// Image size the model was trained for (informational).
  public var sampleSize: Int?
  /// Multiply posterior samples by this before the UNet, divide latents by it before decoding (default 0.18215).
  public var scalingFactor: Float?
  /// Optional latent shift used by some pipelines (not applied by `encode`/`decode`).
  public var shiftFactor: Float?
  /// Whether `quant_conv` exists (default true).
  public var useQuantConv: Bool?
  /// Whether `post_quant_conv` exists (default true).
  public var usePostQuantConv: Bool?
  /// Whether the mid blocks have self-attention (default true).
  public var midBlockAddAttention: Bool?

  /// Creates a configuration; unspecified options take diffusers' defaults.
  public init(
    inChannels: Int = 3, outChannels: Int = 3, blockOutChannels: [Int], layersPerBlock: Int? = 1,
    latentChannels: Int? = 4, normNumGroups: Int? = 32, sampleSize: Int? = nil,
    scalingFactor: Float? = 0.18215, midBlockAddAttention: Bool? = true
  ) {
    self.inChannels = inChannels
    self.outChannels = outChannels
    downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: blockOutChannels.count)
    upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: blockOutChannels.count)
    self.blockOutChannels = blockOutChannels
    self.layersPerBlock = layersPerBlock
    actFn = "silu"
    self.latentChannels = latentChannels
    self.normNumGroups = normNumGroups
    self.sampleSize = sampleSize
    self.scalingFactor = scalingFactor
    self.midBlockAddAttention = midBlockAddAttention
  }

  /// ResNets per encoder block.
  public var resolvedLayersPerBlock: Int { layersPerBlock ?? 1 }
  /// Latent channels.
  public var resolvedLatentChannels: Int { latentChannels ?? 4 }
  /// Group-norm groups.
  public var resolvedGroupCount: Int { normNumGroups ?? 32 }
  /// The latent scaling factor (`scaling_factor`, default 0.18215).
  public var resolvedScalingFactor: Float { scalingFactor ?? 0.18215 }
  /// The spatial down-sampling factor between image and latents, `2^(blocks − 1)`.
  public var downsamplingFactor: Int { 1 << max(0, blockOutChannels.count - 1) }

  /// The activation named by `act_fn`.
  /// - Throws: `ConfigurationError.unsupported` for an activation other than silu, swish or gelu.
  public func activation(file: String = "vae/config.json") throws -> Activation {
    switch actFn ?? "silu" {
    case "silu", "swish": .silu
    case "gelu": .gelu
    default: throw ConfigurationError.unsupported(file: file, field: "act_fn", value: actFn ?? "")
    }
  }

  /// Reads and validates `url` (a `vae/config.json`).
  /// - Throws: `ConfigurationError` naming the file and field.
  public static func decode(contentsOf url: URL) throws -> AutoencoderKLConfiguration {
    let configuration = try ConfigurationFile.decode(AutoencoderKLConfiguration.self, from: url)
    try configuration.validate(file: url.path)
    return configuration
  }

  /// Checks that every field has a supported, consistent value.
  /// - Throws: `ConfigurationError.unsupported` or `.invalid` naming `file` and the field.
  public func validate(file: String = "vae/config.json") throws {
    let count = blockOutChannels.count
    guard count > 0 else {
      throw ConfigurationError.invalid(file: file, field: "block_out_channels", reason: "empty")
    }
    try ConfigurationLimits.check(count, in: ConfigurationLimits.blockCount, field: "block_out_channels", file: file)
    for (field, value, range) in [
      ("in_channels", inChannels, ConfigurationLimits.imageChannels),
      ("out_channels", outChannels, ConfigurationLimits.imageChannels),
      ("latent_channels", resolvedLatentChannels, ConfigurationLimits.imageChannels),
      ("layers_per_block", resolvedLayersPerBlock, ConfigurationLimits.layersPerBlock),
      ("norm_num_groups", resolvedGroupCount, ConfigurationLimits.width),
      ("sample_size", sampleSize ?? 1, ConfigurationLimits.imageSampleSize),
    ] + blockOutChannels.map({ ("block_out_channels", $0, ConfigurationLimits.width) }) {
      try ConfigurationLimits.check(value, in: range, field: field, file: file)
    }
    for type in downBlockTypes where type != "DownEncoderBlock2D" {
      throw ConfigurationError.unsupported(file: file, field: "down_block_types", value: type)
    }
    for type in upBlockTypes where type != "UpDecoderBlock2D" {
      throw ConfigurationError.unsupported(file: file, field: "up_block_types", value: type)
    }
    guard downBlockTypes.count == count, upBlockTypes.count == count else {
      throw ConfigurationError.invalid(
        file: file, field: "down_block_types",
        reason: "block type lists must have \(count) entries like block_out_channels")
    }
    _ = try activation(file: file)
    let groups = resolvedGroupCount
    for channels in blockOutChannels where groups <= 0 || channels <= 0 || channels % groups != 0 {
      throw ConfigurationError.invalid(
        file: file, field: "norm_num_groups",
        reason: "\(channels) channels are not divisible into \(groups) groups")
    }
  }
}

extension AutoencoderKLConfiguration {
  /// The VAE shared by Stable Diffusion 1.5 and 2.1(-base).
  public static let stableDiffusion = AutoencoderKLConfiguration(
    blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, sampleSize: 512)

  /// A tiny VAE (two resolutions, factor 2) for demos and tests.
  public static let tiny = AutoencoderKLConfiguration(
    blockOutChannels: [16, 32], layersPerBlock: 1, normNumGroups: 8, sampleSize: 16)
}
