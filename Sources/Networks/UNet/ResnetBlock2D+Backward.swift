import TensorCore

extension ResnetBlock2D: DifferentiableBlock {
  /// What the backward pass of a block needs beyond its input.
  ///
  /// The SiLU outputs that feed the convolutions are kept only when the plan has room for them
  /// (`activationsKeepingActivatedInputs(of:frozen:)`, about as many floats again as the input and `hidden`);
  /// otherwise the passes that need them recompute them element-wise from the norm inputs and statistics.
  public struct Activations {
    /// The statistics `norm1` used on the input.
    public let norm1: GroupNormStatistics
    /// The output of `conv1`, `norm2`'s input, `[N, outputChannels, H, W]`.
    public let hidden: Tensor
    /// The statistics `norm2` used on `hidden`.
    public let norm2: GroupNormStatistics
    /// `conv1`'s input, SiLU(`norm1`(input)), when kept.
    public let activatedInput: Tensor?
    /// `conv2`'s input, SiLU(`norm2`(`hidden`)), when kept.
    public let activatedHidden: Tensor?
  }

  /// The training forward up to `conv2`: `norm1` → SiLU → `conv1`, and `norm2`'s statistics.
  ///
  /// Training covers the VAE's blocks: no time embedding, SiLU, output scale factor 1.
  /// - Parameters:
  ///   - input: `[N, inputChannels, H, W]`.
  ///   - frozen: group-norm statistics to use instead of the inputs' own.
  public func activations(of input: Tensor, frozen: FrozenGroupNormStatistics) -> Activations {
    recordedActivations(of: input, frozen: frozen, keepingActivatedInputs: false)
  }

  /// `activations(of:frozen:)` keeping `conv1`'s and `conv2`'s inputs (the SiLU outputs) as well.
  public func activationsKeepingActivatedInputs(of input: Tensor, frozen: FrozenGroupNormStatistics) -> Activations {
    recordedActivations(of: input, frozen: frozen, keepingActivatedInputs: true)
  }

  private func recordedActivations(of input: Tensor, frozen: FrozenGroupNormStatistics, keepingActivatedInputs: Bool)
    -> Activations
  {
    precondition(
      timeEmbeddingProjection == nil && activation == .silu && outputScaleFactor == 1,
      "ResnetBlock2D trains without time embedding, with SiLU and output scale factor 1")
    let statistics1 = norm1.statistics(of: input, frozen: frozen)
    let activatedInput = norm1(input, statistics: statistics1, fusedSiLU: true)
    let hidden = conv1(activatedInput)
    let statistics2 = norm2.statistics(of: hidden, frozen: frozen)
    return Activations(
      norm1: statistics1, hidden: hidden, norm2: statistics2,
      activatedInput: keepingActivatedInputs ? activatedInput : nil,
      activatedHidden: keepingActivatedInputs ? norm2(hidden, statistics: statistics2, fusedSiLU: true) : nil)
  }

  /// `conv2`'s input: kept, or recomputed from `hidden`.
  private func activatedHidden(_ activations: Activations) -> Tensor {
    activations.activatedHidden ?? norm2(activations.hidden, statistics: activations.norm2, fusedSiLU: true)
  }

  /// The rest of the training forward: `norm2` → SiLU → `conv2`, plus the (projected) input.
  /// - Returns: `[N, outputChannels, H, W]`.
  public func output(from activations: Activations, input: Tensor) -> Tensor {
    conv2(activatedHidden(activations), adding: shortcut.map { $0(input) } ?? input)
  }

  /// The backward pass: through `conv2`, `norm2` + SiLU (fused), `conv1`, `norm1` + SiLU, and the shortcut.
  ///
  /// When the input gradient is not needed and `norm1` is frozen (`gradients.trains(norm1)` is false), it stops at
  /// `conv1`'s weight gradient: `conv1`'s input gradient and `norm1`'s backward pass are skipped.
  public func backward(
    _ activations: Activations, input: Tensor, outputGradient: Tensor, frozen: FrozenGroupNormStatistics,
    needsInputGradient: Bool, gradients: inout ParameterGradients
  ) -> Tensor? {
    let activated2 = activatedHidden(activations)
    let dActivated2 = conv2.backward(outputGradient: outputGradient, input: activated2, gradients: &gradients)!
    let dHidden = norm2.backward(
      outputGradient: dActivated2, input: activations.hidden, statistics: activations.norm2, fusedSiLU: true,
      frozen: frozen, gradients: &gradients)
    let activated1 = activations.activatedInput ?? norm1(input, statistics: activations.norm1, fusedSiLU: true)
    guard needsInputGradient || gradients.trains(norm1) else {
      _ = conv1.backward(outputGradient: dHidden, input: activated1, needsInputGradient: false, gradients: &gradients)
      _ = shortcut?.backward(
        outputGradient: outputGradient, input: input, needsInputGradient: false, gradients: &gradients)
      return nil
    }
    let dActivated1 = conv1.backward(outputGradient: dHidden, input: activated1, gradients: &gradients)!
    // The residual path's gradient, added as norm1's backward writes ∂x: ∂y itself, or through the shortcut.
    let dResidual: Tensor? =
      if let shortcut {
        shortcut.backward(
          outputGradient: outputGradient, input: input, needsInputGradient: needsInputGradient, gradients: &gradients)
      } else {
        outputGradient
      }
    let dx = norm1.backward(
      outputGradient: dActivated1, input: input, statistics: activations.norm1, fusedSiLU: true, frozen: frozen,
      gradients: &gradients, addedGradient: dResidual)
    return needsInputGradient ? dx : nil
  }

  /// `norm1` and `norm2` with the statistics they used.
  public func groupNormStatistics(in activations: Activations) -> [(norm: GroupNorm, statistics: GroupNormStatistics)] {
    [(norm1, activations.norm1), (norm2, activations.norm2)]
  }

  /// `[N, inputChannels, H, W]` → `[N, outputChannels, H, W]`.
  public func outputShape(forInput inputShape: [Int]) -> [Int] {
    [inputShape[0], conv2.storedWeight.shape[0], inputShape[2], inputShape[3]]
  }

  /// `conv1`'s and `conv2`'s inputs: as many floats as the input and `hidden`.
  public func activatedInputFloats(forInput inputShape: [Int]) -> Int {
    inputShape.reduce(1, *) + outputShape(forInput: inputShape).reduce(1, *)
  }

  /// `hidden` (`conv1`'s output), recomputed by one 3×3 convolution.
  public func activationCost(forInput inputShape: [Int]) -> (floats: Int, recomputeFLOPs: Double) {
    let (batch, channels, positions) = (inputShape[0], inputShape[1], inputShape[2] * inputShape[3])
    let outputs = conv1.storedWeight.shape[0]
    return (batch * outputs * positions, 2 * 9 * Double(batch * positions * channels * outputs))
  }
}
