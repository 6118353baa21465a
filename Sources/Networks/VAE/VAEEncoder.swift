import TensorCore

/// diffusers `Encoder` of `AutoencoderKL`: `conv_in`, `DownEncoderBlock2D`s, mid block, GroupNorm,
/// activation, `conv_out` to `2 × latent_channels` (mean and log-variance).
///
/// Checkpoint keys: `conv_in`, `down_blocks.<i>`, `mid_block`, `conv_norm_out`, `conv_out`.
public final class VAEEncoder: Layer {
  let convolutionIn: Conv2D
  let downBlocks: [DownBlock2D]
  let midBlock: UNetMidBlock2D
  let normOut: GroupNorm
  let convolutionOut: Conv2D
  let activation: Activation

  /// Creates a zero-initialised encoder.
  /// - Throws: `ConfigurationError` if the configuration is not supported.
  public init(configuration: AutoencoderKLConfiguration) throws {
    try configuration.validate()
    let activation = try configuration.activation()
    self.activation = activation
    let channels = configuration.blockOutChannels
    let groups = configuration.resolvedGroupCount
    let epsilon: Float = 1e-6
    convolutionIn = Conv2D(
      inputChannels: configuration.inChannels, outputChannels: channels[0], kernelSize: 3,
      padding: 1)
    var blocks: [DownBlock2D] = []
    var outputChannels = channels[0]
    for index in channels.indices {
      let inputChannels = outputChannels
      outputChannels = channels[index]
      let resnets = (0..<configuration.resolvedLayersPerBlock).map { j in
        ResnetBlock2D(
          inputChannels: j == 0 ? inputChannels : outputChannels, outputChannels: outputChannels,
          timeEmbeddingChannels: nil, groupCount: groups, epsilon: epsilon, activation: activation)
      }
      let downsampler =
        index == channels.count - 1
        ? nil
        : Downsample2D(inputChannels: outputChannels, outputChannels: outputChannels, padding: 0)
      blocks.append(DownBlock2D(resnets: resnets, attentions: [], downsampler: downsampler))
    }
    downBlocks = blocks
    let last = channels[channels.count - 1]
    midBlock = UNetMidBlock2D(
      channels: last, groupCount: groups, epsilon: epsilon, activation: activation,
      addAttention: configuration.midBlockAddAttention ?? true)
    normOut = GroupNorm(groupCount: groups, channels: last, epsilon: epsilon)
    convolutionOut = Conv2D(
      inputChannels: last, outputChannels: 2 * configuration.resolvedLatentChannels,
      kernelSize: 3, padding: 1)
  }

  /// Registers `conv_in`, `down_blocks`, `mid_block`, `conv_norm_out`, `conv_out`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("conv_in", convolutionIn)
    registry.children("down_blocks", downBlocks)
    registry.child("mid_block", midBlock)
    registry.child("conv_norm_out", normOut)
    registry.child("conv_out", convolutionOut)
  }

  /// `image`: `[N, in_channels, H, W]` → moments `[N, 2·latent_channels, H/f, W/f]`.
  public func callAsFunction(_ image: Tensor) -> Tensor {
    var hidden = convolutionIn(image)
    for block in downBlocks { hidden = block(hidden, timeEmbedding: nil, context: nil).0 }
    hidden = midBlock(hidden)
    hidden =
      activation == .silu
      ? normOut(hidden, fusedSiLU: true) : activated(normOut(hidden), activation)
    return convolutionOut(hidden)
  }
}
