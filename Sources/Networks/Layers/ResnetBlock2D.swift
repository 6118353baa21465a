import TensorCore

/// diffusers `ResnetBlock2D`: GroupNorm → activation → Conv3×3, plus a projected time embedding, then
/// GroupNorm → activation → Conv3×3, added to the (1×1-projected when channels change) input.
///
/// Checkpoint keys: `norm1`, `conv1`, `time_emb_proj` (when there is a time embedding), `norm2`, `conv2`,
/// `conv_shortcut` (when input and output channels differ).
///
/// Matches: diffusers `ResnetBlock2D` with `time_embedding_norm="default"`, `output_scale_factor` as given.
/// Limitations: no `scale_shift` time norm, no up/down-sampling inside the block.
public final class ResnetBlock2D: Layer {
  /// The input group norm (`norm1`), before the activation and `conv1`; a fine-tune may freeze it
  /// (`ParameterGradients(freezing:)`).
  public let norm1: GroupNorm
  let conv1: Conv2D
  let timeEmbeddingProjection: Linear?
  let norm2: GroupNorm
  let conv2: Conv2D
  let shortcut: Conv2D?
  let activation: Activation
  let outputScaleFactor: Float

  /// Creates a zero-initialised block.
  /// - Parameters:
  ///   - inputChannels: channels in.
  ///   - outputChannels: channels out.
  ///   - timeEmbeddingChannels: width of the time embedding, or nil for the VAE's blocks.
  ///   - groupCount: group-norm groups.
  ///   - epsilon: group-norm epsilon.
  ///   - activation: the non-linearity (`act_fn`).
  ///   - outputScaleFactor: the sum is divided by this.
  public init(
    inputChannels: Int, outputChannels: Int, timeEmbeddingChannels: Int?, groupCount: Int,
    epsilon: Float,
    activation: Activation = .silu, outputScaleFactor: Float = 1
  ) {
    norm1 = GroupNorm(groupCount: groupCount, channels: inputChannels, epsilon: epsilon)
    conv1 = Conv2D(
      inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 3, padding: 1)
    timeEmbeddingProjection = timeEmbeddingChannels.map {
      Linear(inputCount: $0, outputCount: outputChannels)
    }
    norm2 = GroupNorm(groupCount: groupCount, channels: outputChannels, epsilon: epsilon)
    conv2 = Conv2D(
      inputChannels: outputChannels, outputChannels: outputChannels, kernelSize: 3, padding: 1)
    shortcut =
      inputChannels == outputChannels
      ? nil : Conv2D(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 1)
    self.activation = activation
    self.outputScaleFactor = outputScaleFactor
  }

  /// Registers `norm1`, `conv1`, `time_emb_proj`, `norm2`, `conv2`, `conv_shortcut`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("norm1", norm1)
    registry.child("conv1", conv1)
    registry.child("time_emb_proj", timeEmbeddingProjection)
    registry.child("norm2", norm2)
    registry.child("conv2", conv2)
    registry.child("conv_shortcut", shortcut)
  }

  /// GroupNorm then the activation (fused when it is SiLU).
  func normalizedAndActivated(_ x: Tensor, _ norm: GroupNorm) -> Tensor {
    activation == .silu ? norm(x, fusedSiLU: true) : activated(norm(x), activation)
  }

  /// `x`: `[N, inputChannels, H, W]`; `timeEmbedding`: `[N, T]` or nil → `[N, outputChannels, H, W]`.
  public func callAsFunction(_ x: Tensor, timeEmbedding: Tensor? = nil) -> Tensor {
    precondition(x.rank == 4, "ResnetBlock2D expects [N, C, H, W], got \(x.shape)")
    // conv2's input, made in a scope of its own so that conv1's output is freed before conv2's is allocated.
    let activatedHidden = { () -> Tensor in
      var h = conv1(normalizedAndActivated(x, norm1))
      if let projection = timeEmbeddingProjection, let timeEmbedding {
        let bias = projection(activated(timeEmbedding, activation))  // [N, C_out]
        h = h + bias.reshaped([bias.shape[0], bias.shape[1], 1, 1])
      }
      return normalizedAndActivated(h, norm2)
    }()
    let sum = conv2(activatedHidden, adding: shortcut.map { $0(x) } ?? x)
    return outputScaleFactor == 1 ? sum : sum * (1 / outputScaleFactor)
  }
}
