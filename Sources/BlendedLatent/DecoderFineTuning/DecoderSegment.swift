import TensorCore

/// One recomputation unit of `DifferentiableVAEDecoder`: the backward pass keeps only each segment's input
/// and recomputes the segment's inner activations when its gradient is needed (checkpointing by block).
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

  /// The forward pass of the segment. `x`: `[N, C, H, W]`.
  func forward(_ x: Tensor, _ p: ParameterLookup) -> Tensor {
    switch self {
    case .convolution(let key):
      return conv2d(x, weight: p["\(key).weight"], bias: p["\(key).bias"], padding: 1)
    case .resnet(let key, let shortcut):
      var h = groupNorm(x, groupCount: p.groupCount, weight: p["\(key).norm1.weight"], bias: p["\(key).norm1.bias"],
                        epsilon: p.epsilon, fusedSiLU: true)
      h = conv2d(h, weight: p["\(key).conv1.weight"], bias: p["\(key).conv1.bias"], padding: 1)
      h = groupNorm(h, groupCount: p.groupCount, weight: p["\(key).norm2.weight"], bias: p["\(key).norm2.bias"],
                    epsilon: p.epsilon, fusedSiLU: true)
      h = conv2d(h, weight: p["\(key).conv2.weight"], bias: p["\(key).conv2.bias"], padding: 1)
      let residual = shortcut
        ? conv2d(x, weight: p["\(key).conv_shortcut.weight"], bias: p["\(key).conv_shortcut.bias"]) : x
      h.add(residual)
      return h
    case .attention(let key):
      let activations = attentionForward(x, key: key, p)
      return activations.output
    case .upsampler(let key):
      return conv2d(upsampleNearest2x(x), weight: p["\(key).conv.weight"], bias: p["\(key).conv.bias"], padding: 1)
    case .outputHead(let normKey, let convKey):
      let h = groupNorm(x, groupCount: p.groupCount, weight: p["\(normKey).weight"], bias: p["\(normKey).bias"],
                        epsilon: p.epsilon, fusedSiLU: true)
      return conv2d(h, weight: p["\(convKey).weight"], bias: p["\(convKey).bias"], padding: 1)
    }
  }

  /// The backward pass: recomputes the segment's activations from its input `x`, adds the parameter gradients
  /// into `gradients` (keyed like the parameters) and returns `∂L/∂x` when `needsInputGradient`.
  func backward(
    input x: Tensor, outputGradient dy: Tensor, _ p: ParameterLookup, needsInputGradient: Bool,
    gradients: inout [String: Tensor]
  ) -> Tensor? {
    switch self {
    case .convolution(let key):
      let g = conv2dBackward(outputGradient: dy, input: x, weight: p["\(key).weight"], padding: 1,
                             computeInputGradient: needsInputGradient)
      gradients["\(key).weight"] = g.weight
      gradients["\(key).bias"] = g.bias
      return g.input

    case .resnet(let key, let shortcut):
      let h1 = groupNorm(x, groupCount: p.groupCount, weight: p["\(key).norm1.weight"], bias: p["\(key).norm1.bias"],
                         epsilon: p.epsilon)
      var a1: Tensor? = silu(h1)
      let c1 = conv2d(a1!, weight: p["\(key).conv1.weight"], bias: p["\(key).conv1.bias"], padding: 1)
      let h2 = groupNorm(c1, groupCount: p.groupCount, weight: p["\(key).norm2.weight"], bias: p["\(key).norm2.bias"],
                         epsilon: p.epsilon)
      let conv2 = conv2dBackward(outputGradient: dy, input: silu(h2), weight: p["\(key).conv2.weight"], padding: 1)
      gradients["\(key).conv2.weight"] = conv2.weight
      gradients["\(key).conv2.bias"] = conv2.bias
      let norm2 = groupNormBackward(outputGradient: siluBackward(outputGradient: conv2.input!, input: h2), input: c1,
                                    groupCount: p.groupCount, weight: p["\(key).norm2.weight"], epsilon: p.epsilon)
      gradients["\(key).norm2.weight"] = norm2.weight
      gradients["\(key).norm2.bias"] = norm2.bias
      let conv1 = conv2dBackward(outputGradient: norm2.input, input: a1!, weight: p["\(key).conv1.weight"], padding: 1)
      a1 = nil
      gradients["\(key).conv1.weight"] = conv1.weight
      gradients["\(key).conv1.bias"] = conv1.bias
      let norm1 = groupNormBackward(outputGradient: siluBackward(outputGradient: conv1.input!, input: h1), input: x,
                                    groupCount: p.groupCount, weight: p["\(key).norm1.weight"], epsilon: p.epsilon)
      gradients["\(key).norm1.weight"] = norm1.weight
      gradients["\(key).norm1.bias"] = norm1.bias
      var dx = norm1.input
      if shortcut {
        let s = conv2dBackward(outputGradient: dy, input: x, weight: p["\(key).conv_shortcut.weight"],
                               computeInputGradient: needsInputGradient)
        gradients["\(key).conv_shortcut.weight"] = s.weight
        gradients["\(key).conv_shortcut.bias"] = s.bias
        if let sx = s.input { dx.add(sx) }
      } else {
        dx.add(dy)
      }
      return needsInputGradient ? dx : nil

    case .attention(let key):
      let a = attentionForward(x, key: key, p)
      let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
      let tokens = height * width
      let dOut = dy.reshaped([batch, channels, tokens]).permuted([0, 2, 1])  // [N, T, C]
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
      let norm = groupNormBackward(outputGradient: dNormalized, input: x, groupCount: p.groupCount,
                                   weight: p["\(key).group_norm.weight"], epsilon: p.epsilon)
      gradients["\(key).group_norm.weight"] = norm.weight
      gradients["\(key).group_norm.bias"] = norm.bias
      var dx = norm.input
      dx.add(dy)
      return needsInputGradient ? dx : nil

    case .upsampler(let key):
      let g = conv2dBackward(outputGradient: dy, input: upsampleNearest2x(x), weight: p["\(key).conv.weight"],
                             padding: 1, computeInputGradient: needsInputGradient)
      gradients["\(key).conv.weight"] = g.weight
      gradients["\(key).conv.bias"] = g.bias
      return g.input.map { upsampleNearest2xBackward(outputGradient: $0) }

    case .outputHead(let normKey, let convKey):
      let h = groupNorm(x, groupCount: p.groupCount, weight: p["\(normKey).weight"], bias: p["\(normKey).bias"],
                        epsilon: p.epsilon)
      let conv = conv2dBackward(outputGradient: dy, input: silu(h), weight: p["\(convKey).weight"], padding: 1)
      gradients["\(convKey).weight"] = conv.weight
      gradients["\(convKey).bias"] = conv.bias
      let norm = groupNormBackward(outputGradient: siluBackward(outputGradient: conv.input!, input: h), input: x,
                                   groupCount: p.groupCount, weight: p["\(normKey).weight"], epsilon: p.epsilon)
      gradients["\(normKey).weight"] = norm.weight
      gradients["\(normKey).bias"] = norm.bias
      return needsInputGradient ? norm.input : nil
    }
  }

  /// The intermediate tensors of the mid-block attention that its backward pass needs.
  struct AttentionActivations {
    var tokens: Tensor  // group-normed input as [N, T, C]
    var query: Tensor
    var key: Tensor
    var value: Tensor
    var attended: Tensor  // softmax(QKᵀ/√C)V, [N, T, C]
    var output: Tensor  // [N, C, H, W]
  }

  /// diffusers `Attention` as the VAE mid block configures it: group norm, one head of width C, residual,
  /// `rescale_output_factor` 1. `x`: `[N, C, H, W]`.
  func attentionForward(_ x: Tensor, key: String, _ p: ParameterLookup) -> AttentionActivations {
    let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let normalized = groupNorm(x, groupCount: p.groupCount, weight: p["\(key).group_norm.weight"],
                               bias: p["\(key).group_norm.bias"], epsilon: p.epsilon)
    let tokens = normalized.reshaped([batch, channels, height * width]).permuted([0, 2, 1])  // [N, T, C]
    let query = linear(tokens, weight: p["\(key).to_q.weight"], bias: p["\(key).to_q.bias"])
    let keys = linear(tokens, weight: p["\(key).to_k.weight"], bias: p["\(key).to_k.bias"])
    let value = linear(tokens, weight: p["\(key).to_v.weight"], bias: p["\(key).to_v.bias"])
    let attended = scaledDotProductAttention(query: query, key: keys, value: value, headCount: 1)
    let projected = linear(attended, weight: p["\(key).to_out.0.weight"], bias: p["\(key).to_out.0.bias"])
    var output = projected.permuted([0, 2, 1]).reshaped(x.shape)  // [N, C, H, W]
    output.add(x)
    return AttentionActivations(tokens: tokens, query: query, key: keys, value: value, attended: attended, output: output)
  }
}

/// Read access to a decoder's parameters by full diffusers key, plus the shared group-norm settings.
struct ParameterLookup {
  let parameters: [String: Tensor]
  let groupCount: Int
  let epsilon: Float

  /// The parameter for `key`; the decoder validated every key its segments use at initialisation.
  subscript(_ key: String) -> Tensor {
    guard let tensor = parameters[key] else { preconditionFailure("decoder parameter \(key) was validated but is absent") }
    return tensor
  }
}
