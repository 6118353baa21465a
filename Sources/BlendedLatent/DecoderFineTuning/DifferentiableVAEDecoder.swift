import TensorCore

/// The decoder of a diffusers `AutoencoderKL` with a backward pass, for per-image fine-tuning.
///
/// Input: the latent after `post_quant_conv` (`decoderInput`, `[N, latent_channels, h, w]`) → image
/// `[N, out_channels, h·f, w·f]` with `f = architecture.upscaleFactor`, in the decoder's output range (about [−1, 1]).
///
/// Matches: diffusers `Decoder` (`conv_in` → `UNetMidBlock2D` (resnet, attention, resnet) → `UpDecoderBlock2D`s
/// (`layers_per_block + 1` resnets, nearest-2× + conv upsampler except the last) → `conv_norm_out` → SiLU →
/// `conv_out`), group-norm ε 1e-6, float32. Parameters are keyed by their diffusers names (`decoder.conv_in.weight`, …).
/// Limitations: no time embedding (`temb` is None in the VAE), no spatial norm (`norm_type` "group" only), no
/// `post_quant_conv` (it is not trained; apply it first with `applyingPostQuantConv`).
///
/// Memory: a training step keeps every block's forward activations when their estimated size (from the shapes,
/// before running) fits the activation memory budget; otherwise it keeps only the inputs of the blocks that do
/// not fit and recomputes their activations when their gradient is due (checkpointing by block), see
/// `ActivationPlan`. 3×3 convolutions on large enough inputs run through Winograd, forward and for the input
/// gradient (≈ 1e-5 relative error against direct fp32).
public struct DifferentiableVAEDecoder: Sendable {
  /// The architecture the parameters follow.
  public let architecture: VAEDecoderArchitecture
  /// Every decoder parameter by diffusers key (all start with `decoder.`), in PyTorch layouts.
  public var parameters: [String: Tensor]
  /// The parameter keys in forward order (`conv_in`, mid block, up blocks, output head).
  public let parameterNames: [String]
  /// The recomputation units in forward order.
  let segments: [DecoderSegment]
  /// For each up block, the index of its first segment.
  let upBlockStarts: [Int]

  /// Builds the decoder from a weights dictionary, strictly.
  ///
  /// `weights` may be the whole VAE's dictionary: only keys starting with `decoder.` are read; every one of them
  /// must be used, and every decoder parameter must be present with its PyTorch shape.
  /// - Throws: `DecoderFineTuningError` naming the configuration field or weight key at fault.
  public init(architecture: VAEDecoderArchitecture, weights: [String: Tensor]) throws(DecoderFineTuningError) {
    try architecture.validate()
    let layout = Self.layout(of: architecture)
    for (key, shape) in layout.shapes {
      guard let tensor = weights[key] else { throw .missingWeight(key: key) }
      guard tensor.shape == shape else { throw .weightShapeMismatch(key: key, expected: shape, actual: tensor.shape) }
    }
    let expected = Set(layout.shapes.map(\.key))
    if let extra = weights.keys.filter({ $0.hasPrefix("decoder.") && !expected.contains($0) }).sorted().first {
      throw .unexpectedWeight(key: extra)
    }
    self.architecture = architecture
    self.parameterNames = layout.shapes.map(\.key)
    self.parameters = Dictionary(uniqueKeysWithValues: layout.shapes.map { ($0.key, weights[$0.key]!) })
    self.segments = layout.segments
    self.upBlockStarts = layout.upBlockStarts
  }

  /// The diffusers parameter keys and shapes of a decoder with this architecture, in registration order.
  public static func parameterShapes(of architecture: VAEDecoderArchitecture) -> [(key: String, shape: [Int])] {
    layout(of: architecture).shapes
  }

  /// The number of up blocks (one per entry of `block_out_channels`).
  public var upBlockCount: Int { upBlockStarts.count }

  /// The keys of the parameters that belong to the last `count` up blocks and the output head
  /// (`conv_norm_out`, `conv_out`): the trainable set of the "train only the last blocks" mode.
  public func parameterNames(inLastUpBlocks count: Int) -> [String] {
    let first = upBlockCount - min(max(count, 0), upBlockCount)
    return parameterNames.filter { key in
      if key.hasPrefix("decoder.conv_norm_out.") || key.hasPrefix("decoder.conv_out.") { return true }
      guard key.hasPrefix("decoder.up_blocks.") else { return false }
      let index = Int(key.dropFirst("decoder.up_blocks.".count).prefix { $0.isNumber }) ?? -1
      return index >= first
    }
  }

  /// The parameter lookup the segments run with; `frozenStatistics` replaces those norms' own statistics.
  func lookup(frozenStatistics: [String: GroupNormStatistics] = [:]) -> ParameterLookup {
    ParameterLookup(parameters: parameters, groupCount: architecture.normNumGroups,
                    epsilon: VAEDecoderArchitecture.normEpsilon, frozenStatistics: frozenStatistics)
  }

  /// Checks that `decoderInput` is `[N, latent_channels, h, w]` with positive extents.
  func validate(decoderInput: Tensor) throws(DecoderFineTuningError) {
    guard decoderInput.rank == 4, decoderInput.shape[1] == architecture.latentChannels,
          decoderInput.shape[0] > 0, decoderInput.shape[2] > 0, decoderInput.shape[3] > 0
    else {
      throw .inputShapeMismatch(name: "decoder input", expected: "[N, \(architecture.latentChannels), h, w]",
                                actual: decoderInput.shape)
    }
  }

  /// Decodes without keeping anything for a backward pass. `decoderInput`: `[N, latent_channels, h, w]`
  /// (after `post_quant_conv`) → `[N, out_channels, h·f, w·f]`.
  public func decoded(_ decoderInput: Tensor) throws(DecoderFineTuningError) -> Tensor {
    try validate(decoderInput: decoderInput)
    return run(decoderInput, segments: 0..<segments.count)
  }

  /// Runs `range` of the segments forward from `input`, with `frozenStatistics` for those norms.
  func run(
    _ input: Tensor, segments range: Range<Int>, frozenStatistics: [String: GroupNormStatistics] = [:]
  ) -> Tensor {
    let p = lookup(frozenStatistics: frozenStatistics)
    var x = input
    for index in range { x = segments[index].forward(x, p).output }
    return x
  }

  /// The group-norm statistics of every norm in `range` of the segments when run forward from `input`, by norm key.
  func groupNormStatistics(_ input: Tensor, segments range: Range<Int>) -> [String: GroupNormStatistics] {
    let p = lookup()
    var statistics: [String: GroupNormStatistics] = [:]
    var x = input
    for index in range {
      let step = segments[index].forward(x, p)
      for (key, value) in zip(segments[index].normKeys, step.activations.statistics) { statistics[key] = value }
      x = step.output
    }
    return statistics
  }

  /// The activation memory plan of a training step through segments `start...` for an input of shape `inputShape`.
  func activationPlan(inputShape: [Int], fromSegment start: Int, budgetBytes: Int) -> ActivationPlan {
    ActivationPlan(segments: segments[start...], inputShape: inputShape, lookup(), budgetBytes: budgetBytes)
  }

  /// The index of the first segment of the last `count` up blocks (the whole decoder if `count` covers all).
  func firstSegment(ofLastUpBlocks count: Int) -> Int {
    count >= upBlockCount ? 0 : upBlockStarts[upBlockCount - max(count, 0)]
  }

  /// Forward and backward through segments `start...`: returns the output and `∂L/∂θ` for the parameters of
  /// those segments, where `lossGradient` maps the output to `∂L/∂output`. `input` is the input of segment `start`;
  /// `plan` (for that input's shape) says which segments keep their activations; `frozenStatistics` are constants.
  func outputAndGradients(
    input: Tensor, fromSegment start: Int, plan: ActivationPlan,
    frozenStatistics: [String: GroupNormStatistics] = [:],
    lossGradient: (Tensor) throws(DecoderFineTuningError) -> Tensor
  ) throws(DecoderFineTuningError) -> (output: Tensor, gradients: [String: Tensor]) {
    let p = lookup(frozenStatistics: frozenStatistics)
    // Per segment: its activations, or only its input when they are recomputed in the backward pass.
    var stored: [(activations: SegmentActivations?, input: Tensor)] = []
    stored.reserveCapacity(segments.count - start)
    var x = input
    for index in start..<segments.count {
      let step = segments[index].forward(x, p)
      stored.append((plan.keeps[index - start] ? step.activations : nil, x))
      x = step.output
    }
    var gradient: Tensor? = try lossGradient(x)
    var gradients: [String: Tensor] = [:]
    for index in stride(from: segments.count - 1, through: start, by: -1) {
      let entry = stored.removeLast()
      let activations = entry.activations ?? segments[index].activations(of: entry.input, p)
      gradient = segments[index].backward(
        activations, outputGradient: gradient!, p, needsInputGradient: index > start, gradients: &gradients)
    }
    return (x, gradients)
  }

  /// One forward and backward pass over the whole decoder.
  ///
  /// `decoderInput`: `[N, latent_channels, h, w]` (after `post_quant_conv`); `lossGradient` receives the decoded
  /// image and returns `∂L/∂image` of the same shape. Returns the decoded image and `∂L/∂θ` for every parameter.
  /// Activations are kept for the backward pass within `activationMemoryBudget` bytes (see `ActivationPlan`; 0
  /// recomputes every block's activations from its input).
  public func outputAndGradients(
    decoderInput: Tensor, activationMemoryBudget: Int = DecoderFineTuningOptions.defaultActivationMemoryBudget,
    lossGradient: (Tensor) -> Tensor
  ) throws(DecoderFineTuningError) -> (output: Tensor, gradients: [String: Tensor]) {
    try validate(decoderInput: decoderInput)
    guard activationMemoryBudget >= 0 else {
      throw .invalidOption(name: "activationMemoryBudget", value: "\(activationMemoryBudget)")
    }
    let plan = activationPlan(inputShape: decoderInput.shape, fromSegment: 0, budgetBytes: activationMemoryBudget)
    return try outputAndGradients(input: decoderInput, fromSegment: 0, plan: plan) {
      (output: Tensor) throws(DecoderFineTuningError) in lossGradient(output)
    }
  }

  /// Applies a VAE's `post_quant_conv` (1×1, not trained) to a latent, giving the decoder input.
  ///
  /// `latent`: `[N, latent_channels, h, w]` as `AutoencoderKL.decode` receives it (already divided by the scaling
  /// factor); `weights` must hold `post_quant_conv.weight` `[C, C, 1, 1]` and `post_quant_conv.bias` `[C]`.
  /// - Throws: `DecoderFineTuningError.missingWeight` / `.weightShapeMismatch` / `.inputShapeMismatch`.
  public static func applyingPostQuantConv(_ latent: Tensor, weights: [String: Tensor]) throws(DecoderFineTuningError)
    -> Tensor
  {
    guard latent.rank == 4 else {
      throw .inputShapeMismatch(name: "latent", expected: "[N, C, h, w]", actual: latent.shape)
    }
    let channels = latent.shape[1]
    guard let weight = weights["post_quant_conv.weight"] else { throw .missingWeight(key: "post_quant_conv.weight") }
    guard let bias = weights["post_quant_conv.bias"] else { throw .missingWeight(key: "post_quant_conv.bias") }
    guard weight.shape == [channels, channels, 1, 1] else {
      throw .weightShapeMismatch(key: "post_quant_conv.weight", expected: [channels, channels, 1, 1], actual: weight.shape)
    }
    guard bias.shape == [channels] else {
      throw .weightShapeMismatch(key: "post_quant_conv.bias", expected: [channels], actual: bias.shape)
    }
    return conv2d(latent, weight: weight, bias: bias)
  }

  /// Random parameters for an architecture (for timing and tests, e.g. a full-size `.stableDiffusion` decoder without a
  /// checkpoint): convolution and linear weights uniform in ±1/√fan_in (the bound of PyTorch's default initialisers),
  /// biases uniform in ±0.01, group-norm weights 1 and biases 0. Deterministic in `seed`.
  public static func randomWeights(for architecture: VAEDecoderArchitecture, seed: UInt64) -> [String: Tensor] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    func next() -> Float {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      z ^= z >> 31
      return Float(z >> 40) / Float(1 << 24) * 2 - 1
    }
    var weights: [String: Tensor] = [:]
    for (key, shape) in parameterShapes(of: architecture) {
      let isNorm = key.contains("norm")
      if isNorm {
        weights[key] = Tensor(shape: shape, repeating: key.hasSuffix(".weight") ? 1 : 0)
        continue
      }
      let fanIn = shape.count > 1 ? shape.dropFirst().reduce(1, *) : 1
      let bound = key.hasSuffix(".bias") ? 0.01 : 1 / Float(fanIn).squareRoot()
      weights[key] = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in next() * bound })
    }
    return weights
  }
}

extension DifferentiableVAEDecoder {
  /// Parameter shapes, segments and up-block boundaries derived from an architecture.
  struct Layout {
    var shapes: [(key: String, shape: [Int])] = []
    var segments: [DecoderSegment] = []
    var upBlockStarts: [Int] = []
  }

  static func layout(of architecture: VAEDecoderArchitecture) -> Layout {
    var layout = Layout()
    func add(_ key: String, _ shape: [Int]) { layout.shapes.append((key, shape)) }
    func convolution(_ key: String, _ input: Int, _ output: Int, kernel: Int = 3) {
      add("\(key).weight", [output, input, kernel, kernel])
      add("\(key).bias", [output])
    }
    func norm(_ key: String, _ channels: Int) {
      add("\(key).weight", [channels])
      add("\(key).bias", [channels])
    }
    func resnet(_ key: String, _ input: Int, _ output: Int) {
      norm("\(key).norm1", input)
      convolution("\(key).conv1", input, output)
      norm("\(key).norm2", output)
      convolution("\(key).conv2", output, output)
      if input != output { convolution("\(key).conv_shortcut", input, output, kernel: 1) }
      layout.segments.append(.resnet(key: key, shortcut: input != output))
    }
    let channels = architecture.blockOutChannels
    let deepest = channels.last!
    convolution("decoder.conv_in", architecture.latentChannels, deepest)
    layout.segments.append(.convolution(key: "decoder.conv_in"))
    resnet("decoder.mid_block.resnets.0", deepest, deepest)
    if architecture.hasMidBlockAttention {
      let key = "decoder.mid_block.attentions.0"
      norm("\(key).group_norm", deepest)
      for name in ["to_q", "to_k", "to_v", "to_out.0"] {
        add("\(key).\(name).weight", [deepest, deepest])
        add("\(key).\(name).bias", [deepest])
      }
      layout.segments.append(.attention(key: key))
    }
    resnet("decoder.mid_block.resnets.1", deepest, deepest)
    var previous = deepest
    for (index, output) in channels.reversed().enumerated() {
      layout.upBlockStarts.append(layout.segments.count)
      for layer in 0...architecture.layersPerBlock {
        resnet("decoder.up_blocks.\(index).resnets.\(layer)", layer == 0 ? previous : output, output)
      }
      if index != channels.count - 1 {
        let key = "decoder.up_blocks.\(index).upsamplers.0"
        convolution("\(key).conv", output, output)
        layout.segments.append(.upsampler(key: key))
      }
      previous = output
    }
    norm("decoder.conv_norm_out", channels[0])
    convolution("decoder.conv_out", channels[0], architecture.outChannels)
    layout.segments.append(.outputHead(normKey: "decoder.conv_norm_out", convKey: "decoder.conv_out"))
    return layout
  }
}
