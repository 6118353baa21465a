import Foundation
import TensorCore

/// diffusers `UNet2DConditionModel`: Stable Diffusion's noise predictor ε(x_t, t, context).
///
/// `conv_in` → down blocks (collecting skip states) → mid block → up blocks (consuming skips) →
/// GroupNorm → activation → `conv_out`, with a sinusoidal timestep embedding fed to every ResNet and the text
/// context to every transformer.
///
/// Checkpoint keys: `conv_in`, `time_embedding`, `add_embedding` (SDXL), `down_blocks.<i>`, `mid_block`,
/// `up_blocks.<i>`, `conv_norm_out`, `conv_out`.
///
/// Matches: diffusers 0.42 `UNet2DConditionModel` for the options `UNetConfiguration.validate` accepts
/// (SD 1.x, 2.x and SDXL's `text_time` addition embedding), including latent sizes that are not multiples of
/// `2^(blocks − 1)` (diffusers' `forward_upsample_size`). Limitations: no class embeddings, no attention masks.
public final class UNet2DConditionModel: Layer, @unchecked Sendable {
  /// The configuration the model was built from.
  public let configuration: UNetConfiguration
  let convolutionIn: Conv2D
  let timeEmbedding: TimestepEmbedding
  /// SDXL's `add_embedding` (`addition_embed_type: text_time`), or nil.
  let additionEmbedding: TimestepEmbedding?
  let downBlocks: [DownBlock2D]
  let midBlock: UNetMidBlock2DCrossAttn
  let upBlocks: [UpBlock2D]
  let normOut: GroupNorm
  let convolutionOut: Conv2D
  let activation: Activation

  /// Creates a zero-initialised UNet for `configuration`.
  /// - Throws: `ConfigurationError` if the configuration is not supported.
  public init(configuration: UNetConfiguration) throws {
    try configuration.validate()
    self.configuration = configuration
    let activation = try configuration.activation()
    self.activation = activation
    let channels = configuration.blockOutChannels
    let blockCount = channels.count
    let groups = configuration.resolvedGroupCount
    let epsilon = configuration.resolvedEpsilon
    let timeWidth = configuration.resolvedTimeEmbeddingWidth
    let heads = configuration.resolvedHeadCounts
    let contexts = configuration.resolvedCrossAttentionWidths
    let depths = configuration.resolvedTransformerLayers
    let layers = configuration.resolvedLayersPerBlock
    let linearProjection = configuration.useLinearProjection ?? false
    let inKernel = configuration.convInKernel ?? 3
    let outKernel = configuration.convOutKernel ?? 3

    func resnet(_ input: Int, _ output: Int, scale: Float = 1) -> ResnetBlock2D {
      ResnetBlock2D(
        inputChannels: input, outputChannels: output, timeEmbeddingChannels: timeWidth,
        groupCount: groups, epsilon: epsilon, activation: activation, outputScaleFactor: scale)
    }
    func transformer(_ width: Int, block: Int, heads: Int, context: Int, depth: Int)
      -> Transformer2DModel
    {
      Transformer2DModel(
        channels: width, headCount: heads, contextWidth: context, layerCount: depth,
        groupCount: groups, useLinearProjection: linearProjection)
    }

    convolutionIn = Conv2D(
      inputChannels: configuration.inChannels, outputChannels: channels[0],
      kernelSize: inKernel, padding: (inKernel - 1) / 2)
    timeEmbedding = TimestepEmbedding(
      inputWidth: channels[0], width: timeWidth, activation: activation)
    additionEmbedding = configuration.projectionClassEmbeddingsInputDim.flatMap { input in
      configuration.additionEmbedType == "text_time"
        ? TimestepEmbedding(inputWidth: input, width: timeWidth, activation: activation) : nil
    }

    var down: [DownBlock2D] = []
    var outputChannels = channels[0]
    for (index, type) in configuration.downBlockTypes.enumerated() {
      let inputChannels = outputChannels
      outputChannels = channels[index]
      let isFinal = index == blockCount - 1
      let resnets = (0..<layers[index]).map {
        resnet($0 == 0 ? inputChannels : outputChannels, outputChannels)
      }
      let attentions =
        type == "CrossAttnDownBlock2D"
        ? (0..<layers[index]).map { _ in
          transformer(
            outputChannels, block: index, heads: heads[index], context: contexts[index],
            depth: depths[index])
        } : []
      let downsampler =
        isFinal
        ? nil
        : Downsample2D(
          inputChannels: outputChannels, outputChannels: outputChannels,
          padding: configuration.downsamplePadding ?? 1)
      down.append(DownBlock2D(resnets: resnets, attentions: attentions, downsampler: downsampler))
    }
    downBlocks = down

    let last = channels[blockCount - 1]
    let midScale = configuration.midBlockScaleFactor ?? 1
    midBlock = UNetMidBlock2DCrossAttn(
      first: resnet(last, last, scale: midScale),
      attention: transformer(
        last, block: blockCount - 1, heads: heads[blockCount - 1],
        context: contexts[blockCount - 1], depth: depths[blockCount - 1]),
      second: resnet(last, last, scale: midScale))

    var up: [UpBlock2D] = []
    let reversedChannels = Array(channels.reversed())
    let reversedHeads = Array(heads.reversed())
    let reversedContexts = Array(contexts.reversed())
    let reversedDepths = Array(depths.reversed())
    let reversedLayers = Array(layers.reversed())
    outputChannels = reversedChannels[0]
    for (index, type) in configuration.upBlockTypes.enumerated() {
      let previousOutput = outputChannels
      outputChannels = reversedChannels[index]
      let inputChannels = reversedChannels[min(index + 1, blockCount - 1)]
      let isFinal = index == blockCount - 1
      let count = reversedLayers[index] + 1
      let resnets = (0..<count).map { j in
        let skipChannels = j == count - 1 ? inputChannels : outputChannels
        let resnetInput = j == 0 ? previousOutput : outputChannels
        return resnet(resnetInput + skipChannels, outputChannels)
      }
      let attentions =
        type == "CrossAttnUpBlock2D"
        ? (0..<count).map { _ in
          transformer(
            outputChannels, block: index, heads: reversedHeads[index],
            context: reversedContexts[index],
            depth: reversedDepths[index])
        } : []
      let upsampler =
        isFinal ? nil : Upsample2D(channels: outputChannels, outputChannels: outputChannels)
      up.append(UpBlock2D(resnets: resnets, attentions: attentions, upsampler: upsampler))
    }
    upBlocks = up

    normOut = GroupNorm(groupCount: groups, channels: channels[0], epsilon: epsilon)
    convolutionOut = Conv2D(
      inputChannels: channels[0], outputChannels: configuration.outChannels,
      kernelSize: outKernel, padding: (outKernel - 1) / 2)
  }

  /// Registers `conv_in`, `time_embedding`, `down_blocks`, `mid_block`, `up_blocks`, `conv_norm_out`, `conv_out`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("conv_in", convolutionIn)
    registry.child("time_embedding", timeEmbedding)
    registry.child("add_embedding", additionEmbedding)
    registry.children("down_blocks", downBlocks)
    registry.child("mid_block", midBlock)
    registry.children("up_blocks", upBlocks)
    registry.child("conv_norm_out", normOut)
    registry.child("conv_out", convolutionOut)
  }

  /// Predicts the noise in `sample` at `timestep`, conditioned on `encoderHiddenStates` (and, for SDXL, on the
  /// pooled text embedding and size/crop ids).
  /// - Parameters:
  ///   - sample: noisy latents `[N, in_channels, h, w]` (any positive `h`, `w`).
  ///   - timestep: the diffusion timestep (the same for the whole batch), e.g. 981.
  ///   - encoderHiddenStates: the text encoder's last hidden state `[N, S, cross_attention_dim]`.
  ///   - addedConditions: SDXL's `added_cond_kwargs`; required exactly when the configuration's
  ///     `addition_embed_type` is `text_time`.
  /// - Returns: the prediction `[N, out_channels, h, w]`.
  public func callAsFunction(
    _ sample: Tensor, timestep: Double, encoderHiddenStates: Tensor, addedConditions: AddedConditions? = nil
  ) -> Tensor {
    precondition(
      sample.rank == 4 && sample.shape[1] == configuration.inChannels,
      "UNet2DConditionModel expects [N, \(configuration.inChannels), h, w], got \(sample.shape)")
    precondition(
      encoderHiddenStates.rank == 3 && encoderHiddenStates.shape[0] == sample.shape[0],
      "UNet2DConditionModel: encoderHiddenStates \(encoderHiddenStates.shape) for sample \(sample.shape)"
    )
    precondition(
      (additionEmbedding == nil) == (addedConditions == nil),
      "UNet2DConditionModel: added conditions are required exactly for addition_embed_type text_time")
    let batch = sample.shape[0]
    let sinusoid = TimestepEmbedding.sinusoid(
      timestep: timestep, width: configuration.blockOutChannels[0],
      flipSinToCos: configuration.flipSinToCos ?? true,
      frequencyShift: Float(configuration.freqShift ?? 0), count: batch)
    var embedding = timeEmbedding(sinusoid)  // [N, T]
    if let additionEmbedding, let addedConditions {
      embedding = embedding + additionEmbedding(additionEmbeddingInput(addedConditions, batch: batch))
    }
    let context = encoderHiddenStates

    var input = sample
    if configuration.centerInputSample == true { input = input * 2 + (-1) }
    var hidden = convolutionIn(input)
    var skips = [hidden]
    for block in downBlocks {
      let (output, states) = block(hidden, timeEmbedding: embedding, context: context)
      hidden = output
      skips.append(contentsOf: states)
    }
    hidden = midBlock(hidden, timeEmbedding: embedding, context: context)
    for block in upBlocks {
      hidden = block(hidden, skips: &skips, timeEmbedding: embedding, context: context)
    }
    hidden =
      activation == .silu
      ? normOut(hidden, fusedSiLU: true) : activated(normOut(hidden), activation)
    return convolutionOut(hidden)
  }

  /// `concat(text_embeds, time_proj(time_ids).reshape(N, -1))`, diffusers' `text_time` input to `add_embedding`.
  private func additionEmbeddingInput(_ conditions: AddedConditions, batch: Int) -> Tensor {
    let width = configuration.additionTimeEmbedDim ?? 0
    let pooled = conditions.textEmbeddings
    let ids = conditions.timeIDs
    precondition(
      pooled.shape == [batch, configuration.pooledTextWidth ?? 0] && ids.rank == 2 && ids.shape[0] == batch
        && pooled.shape[1] + ids.shape[1] * width == configuration.projectionClassEmbeddingsInputDim,
      "UNet2DConditionModel: text_embeds \(pooled.shape) and time_ids \(ids.shape) for batch \(batch)")
    var rows: [Tensor] = []
    for row in 0..<batch {
      let values = (0..<ids.shape[1]).map { ids.scalars[row * ids.shape[1] + $0] }
      let sinusoids = values.map {
        TimestepEmbedding.sinusoid(
          timestep: Double($0), width: width, flipSinToCos: configuration.flipSinToCos ?? true,
          frequencyShift: Float(configuration.freqShift ?? 0), count: 1)
      }
      rows.append(
        Tensor.concatenated([pooled.sliced(axis: 0, row..<row + 1)] + sinusoids, axis: 1))
    }
    return Tensor.concatenated(rows, axis: 0)
  }
}
