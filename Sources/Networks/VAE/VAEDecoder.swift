import TensorCore

/// diffusers `Decoder` of `AutoencoderKL`: `conv_in`, mid block, `UpDecoderBlock2D`s, GroupNorm, activation,
/// `conv_out`.
///
/// Checkpoint keys: `conv_in`, `mid_block`, `up_blocks.<i>`, `conv_norm_out`, `conv_out`.
public final class VAEDecoder: Layer {
  let convolutionIn: Conv2D
  let midBlock: UNetMidBlock2D
  let upBlocks: [UpBlock2D]
  let normOut: GroupNorm
  let convolutionOut: Conv2D
  let activation: Activation

  /// Creates a zero-initialised decoder.
  /// - Throws: `ConfigurationError` if the configuration is not supported.
  public init(configuration: AutoencoderKLConfiguration) throws {
    try configuration.validate()
    let activation = try configuration.activation()
    self.activation = activation
    let reversedChannels = Array(configuration.blockOutChannels.reversed())
    let groups = configuration.resolvedGroupCount
    let epsilon: Float = 1e-6
    convolutionIn = Conv2D(
      inputChannels: configuration.resolvedLatentChannels, outputChannels: reversedChannels[0],
      kernelSize: 3, padding: 1)
    midBlock = UNetMidBlock2D(
      channels: reversedChannels[0], groupCount: groups, epsilon: epsilon,
      activation: activation, addAttention: configuration.midBlockAddAttention ?? true)
    var blocks: [UpBlock2D] = []
    var outputChannels = reversedChannels[0]
    for index in reversedChannels.indices {
      let previousOutput = outputChannels
      outputChannels = reversedChannels[index]
      let resnets = (0...configuration.resolvedLayersPerBlock).map { j in
        ResnetBlock2D(
          inputChannels: j == 0 ? previousOutput : outputChannels, outputChannels: outputChannels,
          timeEmbeddingChannels: nil, groupCount: groups, epsilon: epsilon, activation: activation)
      }
      let upsampler =
        index == reversedChannels.count - 1
        ? nil : Upsample2D(channels: outputChannels, outputChannels: outputChannels)
      blocks.append(UpBlock2D(resnets: resnets, attentions: [], upsampler: upsampler))
    }
    upBlocks = blocks
    let first = configuration.blockOutChannels[0]
    normOut = GroupNorm(groupCount: groups, channels: first, epsilon: epsilon)
    convolutionOut = Conv2D(
      inputChannels: first, outputChannels: configuration.outChannels, kernelSize: 3, padding: 1)
  }

  /// Registers `conv_in`, `mid_block`, `up_blocks`, `conv_norm_out`, `conv_out`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("conv_in", convolutionIn)
    registry.child("mid_block", midBlock)
    registry.children("up_blocks", upBlocks)
    registry.child("conv_norm_out", normOut)
    registry.child("conv_out", convolutionOut)
  }

  /// `latents`: `[N, latent_channels, h, w]` → image `[N, out_channels, h·f, w·f]`.
  public func callAsFunction(_ latents: Tensor) -> Tensor {
    var hidden = midBlock(convolutionIn(latents))
    var noSkips: [Tensor] = []
    for block in upBlocks {
      hidden = block(hidden, skips: &noSkips, timeEmbedding: nil, context: nil)
    }
    hidden =
      activation == .silu
      ? normOut(hidden, fusedSiLU: true) : activated(normOut(hidden), activation)
    return convolutionOut(hidden)
  }
}
