import TensorCore

/// One block of `DifferentiableVAEDecoder` for the backward pass: its forward pass records the activations its
/// backward pass needs (`SegmentActivations`), which the training step either keeps or — when they do not fit the
/// memory budget — drops and recomputes from the segment's input when its gradient is due (checkpointing by block).
enum DecoderSegment: Sendable {
  /// A 3×3, padding-1 convolution (`conv_in`).
  case convolution(key: String)
  /// A diffusers `ResnetBlock2D` without time embedding; `shortcut` when input and output channels differ.
  case resnet(key: String, shortcut: Bool)
  /// The mid block's single-head `Attention` with group norm and residual connection.
  case attention(key: String)
  /// `Upsample2D(use_conv=True)`: nearest 2× then a 3×3 convolution.
  case upsampler(key: String)
  /// `conv_norm_out` → SiLU → `conv_out`.
  case outputHead(normKey: String, convKey: String)

  /// The group norms of the segment (parameter key prefixes), in the order of `SegmentActivations.statistics`.
  var normKeys: [String] {
    switch self {
    case .convolution, .upsampler: []
    case .resnet(let key, _): ["\(key).norm1", "\(key).norm2"]
    case .attention(let key): ["\(key).group_norm"]
    case .outputHead(let normKey, _): [normKey]
    }
  }

  /// The forward pass. `x`: `[N, C, H, W]`.
  func forward(_ x: Tensor, _ p: ParameterLookup) -> (output: Tensor, activations: SegmentActivations) {
    let recorded = activations(of: x, p)
    return (output(from: recorded, p), recorded)
  }

  /// The first part of the forward pass: everything the backward pass needs, short of the segment's last operation.
  func activations(of x: Tensor, _ p: ParameterLookup) -> SegmentActivations {
    switch self {
    case .convolution, .upsampler:
      return .input(x)
    case .resnet(let key, _):
      let norm1 = p.statistics(of: x, norm: "\(key).norm1")
      let hidden = p.convolution(p.normalized(x, norm: "\(key).norm1", norm1, silu: true), "\(key).conv1")
      return .resnet(input: x, norm1: norm1, hidden: hidden, norm2: p.statistics(of: hidden, norm: "\(key).norm2"))
    case .attention(let key):
      let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
      let norm = p.statistics(of: x, norm: "\(key).group_norm")
      let normalized = p.normalized(x, norm: "\(key).group_norm", norm, silu: false)
      let tokens = normalized.reshaped([batch, channels, height * width]).permuted([0, 2, 1])  // [N, T, C]
      let query = linear(tokens, weight: p["\(key).to_q.weight"], bias: p["\(key).to_q.bias"])
      let keys = linear(tokens, weight: p["\(key).to_k.weight"], bias: p["\(key).to_k.bias"])
      let value = linear(tokens, weight: p["\(key).to_v.weight"], bias: p["\(key).to_v.bias"])
      let attended = scaledDotProductAttention(query: query, key: keys, value: value, headCount: 1)
      return .attention(input: x, norm: norm, AttentionActivations(tokens: tokens, query: query, key: keys,
                                                                    value: value, attended: attended))
    case .outputHead(let normKey, _):
      return .outputHead(input: x, norm: p.statistics(of: x, norm: normKey))
    }
  }

  /// The rest of the forward pass, from the recorded activations.
  func output(from recorded: SegmentActivations, _ p: ParameterLookup) -> Tensor {
    switch (self, recorded) {
    case (.convolution(let key), .input(let x)):
      return p.convolution(x, key)
    case (.resnet(let key, let shortcut), .resnet(let x, _, let hidden, let norm2)):
      var h = p.convolution(p.normalized(hidden, norm: "\(key).norm2", norm2, silu: true), "\(key).conv2")
      h.add(shortcut ? p.convolution(x, "\(key).conv_shortcut", padding: 0) : x)
      return h
    case (.attention(let key), .attention(let x, _, let a)):
      let projected = linear(a.attended, weight: p["\(key).to_out.0.weight"], bias: p["\(key).to_out.0.bias"])
      var output = projected.permuted([0, 2, 1]).reshaped(x.shape)  // [N, C, H, W]
      output.add(x)
      return output
    case (.upsampler(let key), .input(let x)):
      return p.convolution(upsampleNearest2x(x), "\(key).conv")
    case (.outputHead(let normKey, let convKey), .outputHead(let x, let norm)):
      return p.convolution(p.normalized(x, norm: normKey, norm, silu: true), convKey)
    default:
      preconditionFailure("activations \(recorded) do not belong to segment \(self)")
    }
  }

  /// The backward pass from the segment's recorded activations: adds the parameter gradients into `gradients`
  /// (keyed like the parameters) and returns `∂L/∂x` when `needsInputGradient`.
  func backward(
    _ recorded: SegmentActivations, outputGradient dy: Tensor, _ p: ParameterLookup, needsInputGradient: Bool,
    gradients: inout [String: Tensor]
  ) -> Tensor? {
    switch (self, recorded) {
    case (.convolution(let key), .input(let x)):
      return p.convolutionBackward(dy, input: x, key, needsInputGradient: needsInputGradient, gradients: &gradients)

    case (.resnet(let key, let shortcut), .resnet(let x, let norm1, let hidden, let norm2)):
      // The SiLU outputs are recomputed from the stored statistics (an element-wise pass), not stored.
      let activated2 = p.normalized(hidden, norm: "\(key).norm2", norm2, silu: true)
      let dActivated2 = p.convolutionBackward(dy, input: activated2, "\(key).conv2", needsInputGradient: true,
                                              gradients: &gradients)!
      let dHidden = p.normalizationBackward(dActivated2, input: hidden, norm: "\(key).norm2", norm2, silu: true,
                                            gradients: &gradients)
      let activated1 = p.normalized(x, norm: "\(key).norm1", norm1, silu: true)
      let dActivated1 = p.convolutionBackward(dHidden, input: activated1, "\(key).conv1", needsInputGradient: true,
                                              gradients: &gradients)!
      var dx = p.normalizationBackward(dActivated1, input: x, norm: "\(key).norm1", norm1, silu: true,
                                       gradients: &gradients)
      if shortcut {
        let dShortcut = p.convolutionBackward(dy, input: x, "\(key).conv_shortcut", padding: 0,
                                              needsInputGradient: needsInputGradient, gradients: &gradients)
        if let dShortcut { dx.add(dShortcut) }
      } else {
        dx.add(dy)
      }
      return needsInputGradient ? dx : nil

    case (.attention(let key), .attention(let x, let norm, let a)):
      let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
      let dOut = dy.reshaped([batch, channels, height * width]).permuted([0, 2, 1])  // [N, T, C]
      let out = linearBackward(outputGradient: dOut, input: a.attended, weight: p["\(key).to_out.0.weight"])
      gradients["\(key).to_out.0.weight"] = out.weight
      gradients["\(key).to_out.0.bias"] = out.bias
      let sdpa = scaledDotProductAttentionBackward(outputGradient: out.input, query: a.query, key: a.key,
                                                   value: a.value, headCount: 1)
      var dTokens = Tensor(shape: a.tokens.shape, repeating: 0)
      for (name, gradient) in [("to_q", sdpa.query), ("to_k", sdpa.key), ("to_v", sdpa.value)] {
        let g = linearBackward(outputGradient: gradient, input: a.tokens, weight: p["\(key).\(name).weight"])
        gradients["\(key).\(name).weight"] = g.weight
        gradients["\(key).\(name).bias"] = g.bias
        dTokens.add(g.input)
      }
      let dNormalized = dTokens.permuted([0, 2, 1]).reshaped(x.shape)  // [N, C, H, W]
      var dx = p.normalizationBackward(dNormalized, input: x, norm: "\(key).group_norm", norm, silu: false,
                                       gradients: &gradients)
      dx.add(dy)
      return needsInputGradient ? dx : nil

    case (.upsampler(let key), .input(let x)):
      let dUpsampled = p.convolutionBackward(dy, input: upsampleNearest2x(x), "\(key).conv",
                                             needsInputGradient: needsInputGradient, gradients: &gradients)
      return dUpsampled.map { upsampleNearest2xBackward(outputGradient: $0) }

    case (.outputHead(let normKey, let convKey), .outputHead(let x, let norm)):
      let activated = p.normalized(x, norm: normKey, norm, silu: true)
      let dActivated = p.convolutionBackward(dy, input: activated, convKey, needsInputGradient: true,
                                             gradients: &gradients)!
      let dx = p.normalizationBackward(dActivated, input: x, norm: normKey, norm, silu: true, gradients: &gradients)
      return needsInputGradient ? dx : nil

    default:
      preconditionFailure("activations \(recorded) do not belong to segment \(self)")
    }
  }

  /// The shape of the segment's output for an input of shape `inputShape` (`[N, C, H, W]`).
  func outputShape(forInput inputShape: [Int], _ p: ParameterLookup) -> [Int] {
    let (batch, height, width) = (inputShape[0], inputShape[2], inputShape[3])
    switch self {
    case .convolution(let key): return [batch, p["\(key).weight"].shape[0], height, width]
    case .resnet(let key, _): return [batch, p["\(key).conv2.weight"].shape[0], height, width]
    case .attention: return inputShape
    case .upsampler(let key): return [batch, p["\(key).conv.weight"].shape[0], 2 * height, 2 * width]
    case .outputHead(_, let convKey): return [batch, p["\(convKey).weight"].shape[0], height, width]
    }
  }

  /// What keeping the activations beyond the input costs in floats, and what recomputing them costs in
  /// floating-point operations (multiply and add counted apart), for an input of shape `inputShape`.
  func activationCost(forInput inputShape: [Int], _ p: ParameterLookup) -> (floats: Int, recomputeFLOPs: Double) {
    let (batch, channels, positions) = (inputShape[0], inputShape[1], inputShape[2] * inputShape[3])
    switch self {
    case .convolution, .upsampler, .outputHead:
      return (0, 0)
    case .resnet(let key, _):
      let outputs = p["\(key).conv1.weight"].shape[0]
      return (batch * outputs * positions, 2 * 9 * Double(batch * positions * channels * outputs))
    case .attention:
      // tokens, query, key, value and attended; the projections and the attention itself.
      let tokens = Double(batch * positions)
      return (5 * batch * channels * positions,
              2 * 3 * tokens * Double(channels * channels) + 4 * tokens * Double(positions * channels))
    }
  }
}

/// What one segment's backward pass needs from its forward pass.
enum SegmentActivations {
  /// `conv_in` and the upsamplers: the input alone.
  case input(Tensor)
  /// A resnet: its input, the statistics of `norm1`, the output of `conv1` (`norm2`'s input) and `norm2`'s statistics.
  case resnet(input: Tensor, norm1: GroupNormStatistics, hidden: Tensor, norm2: GroupNormStatistics)
  /// The attention: its input, its group norm's statistics and the tensors of the attention itself.
  case attention(input: Tensor, norm: GroupNormStatistics, AttentionActivations)
  /// The output head: its input and the statistics of `conv_norm_out`.
  case outputHead(input: Tensor, norm: GroupNormStatistics)

  /// The group-norm statistics, in the order of `DecoderSegment.normKeys`.
  var statistics: [GroupNormStatistics] {
    switch self {
    case .input: []
    case .resnet(_, let norm1, _, let norm2): [norm1, norm2]
    case .attention(_, let norm, _), .outputHead(_, let norm): [norm]
    }
  }
}

/// The intermediate tensors of the mid-block attention that its backward pass needs.
struct AttentionActivations {
  /// The group-normed input as `[N, T, C]`.
  var tokens: Tensor
  /// `Q`, `[N, T, C]`.
  var query: Tensor
  /// `K`, `[N, T, C]`.
  var key: Tensor
  /// `V`, `[N, T, C]`.
  var value: Tensor
  /// `softmax(QKᵀ/√C)·V`, `[N, T, C]`.
  var attended: Tensor
}
