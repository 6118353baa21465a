import TensorCore

extension VAEDecoder {
  /// The decoder's units for a training step, in forward order: `conv_in`, the mid block's, each up block's,
  /// and the output head (`conv_norm_out` → SiLU → `conv_out`). Run as a ``DifferentiableSequence`` they are its
  /// training forward (equal to `callAsFunction(_:)`) and backward pass, with checkpointing by unit.
  ///
  /// Training covers SiLU decoders (`act_fn` `silu`, every Stable Diffusion VAE).
  public var differentiableBlocks: [any DifferentiableBlock] {
    [convolutionIn] + midBlock.differentiableBlocks + upBlocks.flatMap(\.differentiableBlocks)
      + [OutputHead(norm: normOut, convolution: convolutionOut, activation: activation)]
  }

  /// The index in ``differentiableBlocks`` of the first unit of the last `count` up blocks: the units from it on
  /// are those up blocks and the output head. 0 when `count` covers every up block; the output head's index when
  /// it is 0.
  /// - Parameter count: how many up blocks, counted from the last.
  public func firstDifferentiableBlock(ofLastUpBlocks count: Int) -> Int {
    precondition(count >= 0, "a count of up blocks cannot be negative, got \(count)")
    guard count < upBlocks.count else { return 0 }
    return 1 + midBlock.differentiableBlocks.count
      + upBlocks.prefix(upBlocks.count - count).reduce(0) { $0 + $1.differentiableBlocks.count }
  }

  /// The output head, `conv_norm_out` → SiLU → `conv_out`, as one unit.
  struct OutputHead: DifferentiableBlock {
    /// `conv_norm_out`.
    let norm: GroupNorm
    /// `conv_out`.
    let convolution: Conv2D
    /// The decoder's activation; training needs SiLU.
    let activation: Activation

    var parameterLayers: [any Layer] { [norm, convolution] }

    /// What the head's backward pass needs beyond its input.
    struct Activations {
      /// The statistics `conv_norm_out` uses on the input.
      let statistics: GroupNormStatistics
      /// `conv_out`'s input, SiLU(`conv_norm_out`(input)), when kept.
      let activated: Tensor?
    }

    /// The statistics `conv_norm_out` uses on the input.
    func activations(of input: Tensor, frozen: FrozenGroupNormStatistics) -> Activations {
      precondition(activation == .silu, "VAEDecoder trains with SiLU only, got \(activation)")
      return Activations(statistics: norm.statistics(of: input, frozen: frozen), activated: nil)
    }

    /// The statistics and `conv_out`'s input.
    func activationsKeepingActivatedInputs(of input: Tensor, frozen: FrozenGroupNormStatistics) -> Activations {
      let recorded = activations(of: input, frozen: frozen)
      return Activations(
        statistics: recorded.statistics, activated: norm(input, statistics: recorded.statistics, fusedSiLU: true))
    }

    /// `conv_out`'s input: kept, or recomputed from the input.
    private func activated(_ activations: Activations, input: Tensor) -> Tensor {
      activations.activated ?? norm(input, statistics: activations.statistics, fusedSiLU: true)
    }

    func output(from activations: Activations, input: Tensor) -> Tensor {
      convolution(activated(activations, input: input))
    }

    func backward(
      _ activations: Activations, input: Tensor, outputGradient: Tensor, frozen: FrozenGroupNormStatistics,
      needsInputGradient: Bool, gradients: inout ParameterGradients
    ) -> Tensor? {
      let dActivated = convolution.backward(
        outputGradient: outputGradient, input: activated(activations, input: input), gradients: &gradients)!
      let dx = norm.backward(
        outputGradient: dActivated, input: input, statistics: activations.statistics, fusedSiLU: true, frozen: frozen,
        gradients: &gradients)
      return needsInputGradient ? dx : nil
    }

    func groupNormStatistics(in activations: Activations) -> [(norm: GroupNorm, statistics: GroupNormStatistics)] {
      [(norm, activations.statistics)]
    }

    func outputShape(forInput inputShape: [Int]) -> [Int] { convolution.outputShape(forInput: inputShape) }

    /// Only statistics are recorded: nothing to plan.
    func activationCost(forInput inputShape: [Int]) -> (floats: Int, recomputeFLOPs: Double) { (0, 0) }

    /// `conv_out`'s input: as many floats as the input.
    func activatedInputFloats(forInput inputShape: [Int]) -> Int { inputShape.reduce(1, *) }
  }
}
