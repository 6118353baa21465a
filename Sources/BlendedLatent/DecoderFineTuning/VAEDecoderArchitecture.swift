/// The fields of a diffusers `AutoencoderKL` `config.json` that shape its decoder.
///
/// Decodes straight from the VAE's `config.json` with `JSONDecoder.keyDecodingStrategy = .convertFromSnakeCase`
/// (unknown keys such as `down_block_types` are ignored). Matches diffusers' `Decoder` with `up_block_types` all
/// `UpDecoderBlock2D`, `act_fn` `silu`, `norm_type` `group`, group-norm ε 1e-6 and a single-head mid-block attention.
public struct VAEDecoderArchitecture: Codable, Sendable, Equatable {
  /// Channels per resolution level, highest resolution first (`block_out_channels`).
  public var blockOutChannels: [Int]
  /// ResNet blocks per down block; each decoder up block has one more (`layers_per_block`).
  public var layersPerBlock: Int
  /// Groups of every group normalisation (`norm_num_groups`).
  public var normNumGroups: Int
  /// Channels of the latent the decoder consumes (`latent_channels`).
  public var latentChannels: Int
  /// Image channels the decoder produces (`out_channels`).
  public var outChannels: Int
  /// Whether the mid block has its self-attention (`mid_block_add_attention`); nil means true, diffusers' default.
  public var midBlockAddAttention: Bool?

  /// Creates an architecture from its fields.
  public init(
    blockOutChannels: [Int], layersPerBlock: Int, normNumGroups: Int, latentChannels: Int, outChannels: Int = 3,
    midBlockAddAttention: Bool? = true
  ) {
    self.blockOutChannels = blockOutChannels
    self.layersPerBlock = layersPerBlock
    self.normNumGroups = normNumGroups
    self.latentChannels = latentChannels
    self.outChannels = outChannels
    self.midBlockAddAttention = midBlockAddAttention
  }

  /// The Stable Diffusion (1.x / 2.x) VAE: `[128, 256, 512, 512]`, 2 layers per block, 32 groups, 4 latent channels.
  public static let stableDiffusion = VAEDecoderArchitecture(
    blockOutChannels: [128, 256, 512, 512], layersPerBlock: 2, normNumGroups: 32, latentChannels: 4)

  /// The group-norm epsilon of every diffusers VAE decoder normalisation.
  public static let normEpsilon: Float = 1e-6

  /// Whether the mid block carries attention.
  public var hasMidBlockAttention: Bool { midBlockAddAttention ?? true }

  /// The ratio between image and latent resolution: `2^(levels − 1)`.
  public var upscaleFactor: Int { 1 << max(0, blockOutChannels.count - 1) }

  /// Checks that the fields describe a buildable decoder.
  /// - Throws: `DecoderFineTuningError.invalidArchitecture` naming the offending field.
  public func validate() throws(DecoderFineTuningError) {
    guard !blockOutChannels.isEmpty, blockOutChannels.allSatisfy({ $0 > 0 }) else {
      throw .invalidArchitecture(field: "block_out_channels", value: "\(blockOutChannels)")
    }
    guard layersPerBlock > 0 else { throw .invalidArchitecture(field: "layers_per_block", value: "\(layersPerBlock)") }
    guard normNumGroups > 0, blockOutChannels.allSatisfy({ $0 % normNumGroups == 0 }) else {
      throw .invalidArchitecture(field: "norm_num_groups", value: "\(normNumGroups) (must divide \(blockOutChannels))")
    }
    guard latentChannels > 0 else { throw .invalidArchitecture(field: "latent_channels", value: "\(latentChannels)") }
    guard outChannels > 0 else { throw .invalidArchitecture(field: "out_channels", value: "\(outChannels)") }
  }
}
