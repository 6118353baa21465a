import Foundation
import TensorCore

/// The configuration of diffusers' `UNet2DConditionModel` (`unet/config.json`).
///
/// Property names are the camelCase forms of the JSON keys. Optional properties are the ones older
/// configurations may omit; the `resolved…` accessors give diffusers' defaults. `validate(file:)` rejects
/// every value this package does not implement, so decoding never yields a model that silently differs.
public struct UNetConfiguration: Codable, Sendable, Equatable {
  /// Latent spatial size the model was trained for (informational).
  public var sampleSize: Int?
  /// Channels of the noisy latents.
  public var inChannels: Int
  /// Channels of the prediction.
  public var outChannels: Int
  /// `2·x − 1` on the input when true.
  public var centerInputSample: Bool?
  /// Order of the sinusoidal embedding halves (default true: cos first).
  public var flipSinToCos: Bool?
  /// The `downscale_freq_shift` of the timestep embedding (default 0).
  public var freqShift: Int?
  /// `CrossAttnDownBlock2D` or `DownBlock2D`, one per resolution.
  public var downBlockTypes: [String]
  /// `UNetMidBlock2DCrossAttn` (the default when absent).
  public var midBlockType: String?
  /// `UpBlock2D` or `CrossAttnUpBlock2D`, one per resolution, from the lowest resolution up.
  public var upBlockTypes: [String]
  /// Must be false everywhere (only cross-attention blocks are not implemented).
  public var onlyCrossAttention: PerBlock<Bool>?
  /// Channels of each down block.
  public var blockOutChannels: [Int]
  /// ResNet layers per down block (up blocks have one more).
  public var layersPerBlock: PerBlock<Int>
  /// Padding of the down-sampling convolutions (default 1).
  public var downsamplePadding: Int?
  /// The mid block's ResNet output scale (default 1).
  public var midBlockScaleFactor: Float?
  /// The activation of ResNets and the time embedding (`silu`, `swish` or `gelu`; default `silu`).
  public var actFn: String?
  /// Group-norm groups (default 32).
  public var normNumGroups: Int?
  /// Group-norm epsilon of ResNets and the output norm (default 1e-5).
  public var normEps: Float?
  /// Width of the text-encoder states, for all blocks or per block.
  public var crossAttentionDim: PerBlock<Int>
  /// Transformer layers in each cross-attention block (default 1).
  public var transformerLayersPerBlock: PerBlock<Int>?
  /// Must be absent (explicit per-layer up-block transformer depths are not implemented).
  public var reverseTransformerLayersPerBlock: [[Int]]?
  /// Must be absent.
  public var encoderHidDim: Int?
  /// Must be absent.
  public var encoderHidDimType: String?
  /// Because of a historical naming bug in diffusers this is the number of attention *heads* per block
  /// (each head is `channels / heads` wide), for all blocks or per block.
  public var attentionHeadDim: PerBlock<Int>
  /// Must be absent: diffusers' `UNet2DConditionModel` rejects it as well.
  public var numAttentionHeads: PerBlock<Int>?
  /// Must be false.
  public var dualCrossAttention: Bool?
  /// Linear (true) or 1×1-convolution (false, default) `proj_in`/`proj_out` in `Transformer2DModel`.
  public var useLinearProjection: Bool?
  /// Must be absent.
  public var classEmbedType: String?
  /// Absent, or `text_time` (SDXL): the pooled text embedding and six size/crop ids, each id embedded as an
  /// `addition_time_embed_dim`-wide sinusoid, go through `add_embedding` and are added to the time embedding.
  public var additionEmbedType: String?
  /// The sinusoid width of each `text_time` id (256 for SDXL).
  public var additionTimeEmbedDim: Int?
  /// The input width of `add_embedding`: pooled text width + 6 × `addition_time_embed_dim` (2816 for SDXL).
  public var projectionClassEmbeddingsInputDim: Int?
  /// Must be absent.
  public var numClassEmbeds: Int?
  /// Float16 attention upcasting; without effect here (everything runs in float32).
  public var upcastAttention: Bool?
  /// Must be `default`.
  public var resnetTimeScaleShift: String?
  /// Must be false.
  public var resnetSkipTimeAct: Bool?
  /// Must be 1.
  public var resnetOutScaleFactor: Float?
  /// Must be `positional` (the default).
  public var timeEmbeddingType: String?
  /// Width of the time embedding (default `4 × block_out_channels[0]`).
  public var timeEmbeddingDim: Int?
  /// Must be absent.
  public var timeEmbeddingActFn: String?
  /// Must be absent.
  public var timestepPostAct: String?
  /// Must be absent.
  public var timeCondProjDim: Int?
  /// Kernel size of `conv_in` (odd; default 3).
  public var convInKernel: Int?
  /// Kernel size of `conv_out` (odd; default 3).
  public var convOutKernel: Int?
  /// Must be `default`.
  public var attentionType: String?
  /// Must be false or absent.
  public var midBlockOnlyCrossAttention: Bool?
  /// Must be absent.
  public var crossAttentionNorm: String?

  /// Creates a configuration; unspecified options take diffusers' defaults.
  public init(
    sampleSize: Int? = nil, inChannels: Int = 4, outChannels: Int = 4, flipSinToCos: Bool? = true,
    freqShift: Int? = 0, downBlockTypes: [String], upBlockTypes: [String], blockOutChannels: [Int],
    layersPerBlock: PerBlock<Int>, normNumGroups: Int? = 32, normEps: Float? = 1e-5,
    crossAttentionDim: PerBlock<Int>, transformerLayersPerBlock: PerBlock<Int>? = nil,
    attentionHeadDim: PerBlock<Int>, useLinearProjection: Bool? = nil, actFn: String? = "silu"
  ) {
    self.sampleSize = sampleSize
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.flipSinToCos = flipSinToCos
    self.freqShift = freqShift
    self.downBlockTypes = downBlockTypes
    self.upBlockTypes = upBlockTypes
    self.blockOutChannels = blockOutChannels
    self.layersPerBlock = layersPerBlock
    self.normNumGroups = normNumGroups
    self.normEps = normEps
    self.crossAttentionDim = crossAttentionDim
    self.transformerLayersPerBlock = transformerLayersPerBlock
    self.attentionHeadDim = attentionHeadDim
    self.useLinearProjection = useLinearProjection
    self.actFn = actFn
  }

  /// The pooled text-embedding width `add_embedding` expects (`text_time` only): its input width minus the six
  /// id sinusoids.
  public var pooledTextWidth: Int? {
    guard additionEmbedType == "text_time", let input = projectionClassEmbeddingsInputDim,
      let width = additionTimeEmbedDim
    else { return nil }
    return input - 6 * width
  }

  /// Group-norm groups (diffusers default 32).
  public var resolvedGroupCount: Int { normNumGroups ?? 32 }
  /// Group-norm epsilon (default 1e-5).
  public var resolvedEpsilon: Float { normEps ?? 1e-5 }
  /// Width of the time embedding.
  public var resolvedTimeEmbeddingWidth: Int { timeEmbeddingDim ?? 4 * blockOutChannels[0] }
  /// Transformer depth per down block.
  public var resolvedTransformerLayers: [Int] {
    (transformerLayersPerBlock ?? .uniform(1)).values(count: blockOutChannels.count)
  }
  /// Attention heads per down block.
  public var resolvedHeadCounts: [Int] { attentionHeadDim.values(count: blockOutChannels.count) }
  /// Cross-attention context width per down block.
  public var resolvedCrossAttentionWidths: [Int] {
    crossAttentionDim.values(count: blockOutChannels.count)
  }
  /// ResNet layers per down block.
  public var resolvedLayersPerBlock: [Int] { layersPerBlock.values(count: blockOutChannels.count) }
  /// The activation named by `act_fn`.
  /// - Throws: `ConfigurationError.unsupported` for an activation other than silu, swish or gelu.
  public func activation(file: String = "unet/config.json") throws -> Activation {
    switch actFn ?? "silu" {
    case "silu", "swish": .silu
    case "gelu": .gelu
    default: throw ConfigurationError.unsupported(file: file, field: "act_fn", value: actFn ?? "")
    }
  }

  /// Reads and validates `url` (a `unet/config.json`).
  /// - Throws: `ConfigurationError` naming the file and field.
  public static func decode(contentsOf url: URL) throws -> UNetConfiguration {
    let configuration = try ConfigurationFile.decode(UNetConfiguration.self, from: url)
    try configuration.validate(file: url.path)
    return configuration
  }

  /// Checks that every field has a value this package implements and that the fields are consistent.
  /// - Parameter file: the file name to put in errors.
  /// - Throws: `ConfigurationError.unsupported` or `.invalid` naming `file` and the field.
  public func validate(file: String = "unet/config.json") throws {
    func unsupported(_ field: String, _ value: Any?) -> ConfigurationError {
      .unsupported(file: file, field: field, value: value.map { "\($0)" } ?? "null")
    }
    let count = blockOutChannels.count
    guard count > 0 else {
      throw ConfigurationError.invalid(file: file, field: "block_out_channels", reason: "empty")
    }
    try checkLimits(file: file)
    for type in downBlockTypes where !["CrossAttnDownBlock2D", "DownBlock2D"].contains(type) {
      throw unsupported("down_block_types", type)
    }
    for type in upBlockTypes where !["CrossAttnUpBlock2D", "UpBlock2D"].contains(type) {
      throw unsupported("up_block_types", type)
    }
    if let midBlockType, midBlockType != "UNetMidBlock2DCrossAttn" {
      throw unsupported("mid_block_type", midBlockType)
    }
    if downBlockTypes.count != count {
      throw ConfigurationError.invalid(
        file: file, field: "down_block_types",
        reason: "\(downBlockTypes.count) blocks for \(count) block_out_channels")
    }
    if upBlockTypes.count != count {
      throw ConfigurationError.invalid(
        file: file, field: "up_block_types",
        reason: "\(upBlockTypes.count) blocks for \(count) block_out_channels")
    }
    for (field, value) in [
      ("attention_head_dim", attentionHeadDim.hasWrongLength(count)),
      ("cross_attention_dim", crossAttentionDim.hasWrongLength(count)),
      ("layers_per_block", layersPerBlock.hasWrongLength(count)),
      ("transformer_layers_per_block", transformerLayersPerBlock?.hasWrongLength(count) ?? false),
      ("only_cross_attention", onlyCrossAttention?.hasWrongLength(count) ?? false),
    ] where value {
      throw ConfigurationError.invalid(
        file: file, field: field, reason: "list length differs from \(count) blocks")
    }
    if let numAttentionHeads { throw unsupported("num_attention_heads", numAttentionHeads) }
    if let reverseTransformerLayersPerBlock {
      throw unsupported("reverse_transformer_layers_per_block", reverseTransformerLayersPerBlock)
    }
    if let encoderHidDim { throw unsupported("encoder_hid_dim", encoderHidDim) }
    if let encoderHidDimType { throw unsupported("encoder_hid_dim_type", encoderHidDimType) }
    if dualCrossAttention == true { throw unsupported("dual_cross_attention", true) }
    if onlyCrossAttention?.values(count: count).contains(true) == true {
      throw unsupported("only_cross_attention", true)
    }
    if midBlockOnlyCrossAttention == true {
      throw unsupported("mid_block_only_cross_attention", true)
    }
    if let classEmbedType { throw unsupported("class_embed_type", classEmbedType) }
    if let additionEmbedType {
      guard additionEmbedType == "text_time" else { throw unsupported("addition_embed_type", additionEmbedType) }
      guard let width = additionTimeEmbedDim, width > 0, width % 2 == 0 else {
        throw ConfigurationError.invalid(
          file: file, field: "addition_time_embed_dim", reason: "text_time needs a positive even width")
      }
      guard let input = projectionClassEmbeddingsInputDim, input > 6 * width else {
        throw ConfigurationError.invalid(
          file: file, field: "projection_class_embeddings_input_dim",
          reason: "text_time needs the pooled text width plus 6 × addition_time_embed_dim")
      }
    }
    if let numClassEmbeds { throw unsupported("num_class_embeds", numClassEmbeds) }
    if let resnetTimeScaleShift, resnetTimeScaleShift != "default" {
      throw unsupported("resnet_time_scale_shift", resnetTimeScaleShift)
    }
    if resnetSkipTimeAct == true { throw unsupported("resnet_skip_time_act", true) }
    if let resnetOutScaleFactor, resnetOutScaleFactor != 1 {
      throw unsupported("resnet_out_scale_factor", resnetOutScaleFactor)
    }
    if let timeEmbeddingType, timeEmbeddingType != "positional" {
      throw unsupported("time_embedding_type", timeEmbeddingType)
    }
    if let timeEmbeddingActFn { throw unsupported("time_embedding_act_fn", timeEmbeddingActFn) }
    if let timestepPostAct { throw unsupported("timestep_post_act", timestepPostAct) }
    if let timeCondProjDim { throw unsupported("time_cond_proj_dim", timeCondProjDim) }
    if let attentionType, attentionType != "default" {
      throw unsupported("attention_type", attentionType)
    }
    if let crossAttentionNorm { throw unsupported("cross_attention_norm", crossAttentionNorm) }
    for (field, kernel) in [("conv_in_kernel", convInKernel), ("conv_out_kernel", convOutKernel)] {
      if let kernel, kernel <= 0 || kernel % 2 == 0 { throw unsupported(field, kernel) }
    }
    _ = try activation(file: file)
    let groups = resolvedGroupCount
    guard groups > 0 else {
      throw ConfigurationError.invalid(
        file: file, field: "norm_num_groups", reason: "must be positive")
    }
    let heads = resolvedHeadCounts
    for (index, channels) in blockOutChannels.enumerated() {
      guard channels > 0, channels % groups == 0 else {
        throw ConfigurationError.invalid(
          file: file, field: "block_out_channels",
          reason: "\(channels) channels are not divisible into \(groups) groups")
      }
      guard heads[index] > 0, channels % heads[index] == 0 else {
        throw ConfigurationError.invalid(
          file: file, field: "attention_head_dim",
          reason: "\(channels) channels are not divisible into \(heads[index]) heads")
      }
    }
    guard inChannels > 0, outChannels > 0 else {
      throw ConfigurationError.invalid(
        file: file, field: "in_channels", reason: "channel counts must be positive")
    }
    if resolvedLayersPerBlock.contains(where: { $0 < 1 })
      || resolvedTransformerLayers.contains(where: { $0 < 1 })
    {
      throw ConfigurationError.invalid(
        file: file, field: "layers_per_block", reason: "layer counts must be positive")
    }
  }
}

extension UNetConfiguration {
  /// Checks every number against ``ConfigurationLimits`` (before the list lengths, so a huge list is refused too).
  func checkLimits(file: String) throws(ConfigurationError) {
    let count = blockOutChannels.count
    try ConfigurationLimits.check(count, in: ConfigurationLimits.blockCount, field: "block_out_channels", file: file)
    var checks: [(String, Int, ClosedRange<Int>)] = [
      ("in_channels", inChannels, ConfigurationLimits.imageChannels),
      ("out_channels", outChannels, ConfigurationLimits.imageChannels),
      ("sample_size", sampleSize ?? 1, ConfigurationLimits.latentSampleSize),
      ("norm_num_groups", resolvedGroupCount, ConfigurationLimits.width),
      ("time_embedding_dim", timeEmbeddingDim ?? 1, ConfigurationLimits.width),
      ("addition_time_embed_dim", additionTimeEmbedDim ?? 2, ConfigurationLimits.width),
      ("projection_class_embeddings_input_dim", projectionClassEmbeddingsInputDim ?? 1, ConfigurationLimits.width),
      ("conv_in_kernel", convInKernel ?? 3, ConfigurationLimits.kernel),
      ("conv_out_kernel", convOutKernel ?? 3, ConfigurationLimits.kernel),
      ("downsample_padding", downsamplePadding ?? 1, 0...ConfigurationLimits.kernel.upperBound),
      ("freq_shift", freqShift ?? 0, 0...ConfigurationLimits.width.upperBound),
    ]
    checks += blockOutChannels.map { ("block_out_channels", $0, ConfigurationLimits.width) }
    checks += attentionHeadDim.allValues.map { ("attention_head_dim", $0, ConfigurationLimits.heads) }
    checks += crossAttentionDim.allValues.map { ("cross_attention_dim", $0, ConfigurationLimits.width) }
    checks += layersPerBlock.allValues.map { ("layers_per_block", $0, ConfigurationLimits.layersPerBlock) }
    checks += (transformerLayersPerBlock?.allValues ?? []).map {
      ("transformer_layers_per_block", $0, ConfigurationLimits.layersPerBlock)
    }
    for (field, value, range) in checks {
      try ConfigurationLimits.check(value, in: range, field: field, file: file)
    }
  }

  /// The UNet of Stable Diffusion 1.5 (`runwayml/stable-diffusion-v1-5`).
  public static let stableDiffusion15 = UNetConfiguration(
    sampleSize: 64,
    downBlockTypes: [
      "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D",
    ],
    upBlockTypes: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    blockOutChannels: [320, 640, 1280, 1280], layersPerBlock: .uniform(2),
    crossAttentionDim: .uniform(768),
    attentionHeadDim: .uniform(8))

  /// The UNet of Stable Diffusion 2.1-base (`stabilityai/stable-diffusion-2-1-base`).
  public static let stableDiffusion21Base = UNetConfiguration(
    sampleSize: 64,
    downBlockTypes: [
      "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D",
    ],
    upBlockTypes: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    blockOutChannels: [320, 640, 1280, 1280], layersPerBlock: .uniform(2),
    crossAttentionDim: .uniform(1024),
    attentionHeadDim: .perBlock([5, 10, 20, 20]), useLinearProjection: true)

  /// A tiny SD-2-like UNet (two resolutions, 32 channels) for demos and tests; pairs with
  /// `CLIPTextConfiguration.tiny` (context width 32).
  public static let tiny = UNetConfiguration(
    sampleSize: 8, downBlockTypes: ["CrossAttnDownBlock2D", "DownBlock2D"],
    upBlockTypes: ["UpBlock2D", "CrossAttnUpBlock2D"],
    blockOutChannels: [32, 64], layersPerBlock: .uniform(1), normNumGroups: 8,
    crossAttentionDim: .uniform(32),
    attentionHeadDim: .uniform(4), useLinearProjection: true)
}
