import TensorCore

/// Blocks run one after another, forward and backward: a training step with activation checkpointing.
///
/// The forward pass of ``outputAndGradients(input:plan:frozen:gradients:lossGradient:)`` keeps each block's input
/// and, where the ``ActivationPlan`` says so, its activations; the backward pass walks the blocks in reverse,
/// recomputing the activations of the blocks that did not keep them from their input (checkpointing by block).
/// Kept and recomputed activations give bit-identical gradients.
public struct DifferentiableSequence {
  /// The blocks, in forward order.
  public let blocks: [any DifferentiableBlock]

  /// A sequence of `blocks`, in forward order.
  public init(_ blocks: [any DifferentiableBlock]) { self.blocks = blocks }

  /// The forward pass without keeping anything for a backward pass.
  /// - Parameters:
  ///   - input: the first block's input, `[N, C, H, W]`.
  ///   - frozen: group-norm statistics to use instead of the inputs' own.
  /// - Returns: the last block's output (`input` itself when there are no blocks).
  public func callAsFunction(_ input: Tensor, frozen: FrozenGroupNormStatistics = FrozenGroupNormStatistics()) -> Tensor
  {
    var x = input
    for block in blocks { x = block.recordedForward(x, frozen: frozen).output }
    return x
  }

  /// The statistics every group norm of the blocks has when the sequence runs forward from `input`, ready to be
  /// held constant in later steps.
  /// - Parameter input: the first block's input, `[N, C, H, W]`.
  public func groupNormStatistics(_ input: Tensor) -> FrozenGroupNormStatistics {
    var statistics = FrozenGroupNormStatistics()
    var x = input
    for block in blocks {
      let step = block.recordedForward(x, frozen: FrozenGroupNormStatistics())
      for (norm, value) in block.groupNormStatistics(erased: step.activations) { statistics[norm] = value }
      x = step.output
    }
    return statistics
  }

  /// The activation memory plan of a training step for an input of shape `inputShape`.
  /// - Parameters:
  ///   - inputShape: the first block's input shape, `[N, C, H, W]`.
  ///   - budgetBytes: the most bytes of activations to keep.
  public func activationPlan(inputShape: [Int], budgetBytes: Int) -> ActivationPlan {
    ActivationPlan(blocks: blocks, inputShape: inputShape, budgetBytes: budgetBytes)
  }

  /// One forward and backward pass: returns the output and adds `∂L/∂θ` of every block's parameters to `gradients`.
  /// - Parameters:
  ///   - input: the first block's input, `[N, C, H, W]`; fixed (no `∂L/∂input` is computed).
  ///   - plan: which blocks keep their activations, planned for `input`'s shape.
  ///   - frozen: group-norm statistics held constant.
  ///   - gradients: where the parameter gradients are added.
  ///   - lossGradient: maps the output to `∂L/∂output` (same shape); its error is rethrown.
  /// - Returns: the last block's output.
  public func outputAndGradients<Failure: Error>(
    input: Tensor, plan: ActivationPlan, frozen: FrozenGroupNormStatistics = FrozenGroupNormStatistics(),
    gradients: inout ParameterGradients, lossGradient: (Tensor) throws(Failure) -> Tensor
  ) throws(Failure) -> Tensor {
    precondition(plan.keeps.count == blocks.count, "plan for \(plan.keeps.count) blocks, sequence has \(blocks.count)")
    // Per block: its activations, or nil when they are recomputed in the backward pass, and its input.
    var stored: [(activations: Any?, input: Tensor)] = []
    stored.reserveCapacity(blocks.count)
    var x = input
    for (index, block) in blocks.enumerated() {
      let step = block.recordedForward(x, frozen: frozen, keepingActivatedInputs: plan.keepsActivatedInputs[index])
      stored.append((plan.keeps[index] ? step.activations : nil, x))
      x = step.output
    }
    var gradient: Tensor? = try lossGradient(x)
    for index in blocks.indices.reversed() {
      let entry = stored.removeLast()
      gradient = blocks[index].erasedBackward(
        entry.activations, input: entry.input, outputGradient: gradient!, frozen: frozen,
        needsInputGradient: index > 0, gradients: &gradients)
    }
    return x
  }
}

extension DifferentiableBlock {
  /// The forward pass with its activations type-erased, for a sequence of blocks of different types; with
  /// `keepingActivatedInputs`, the activations include the convolutions' activated inputs.
  func recordedForward(_ input: Tensor, frozen: FrozenGroupNormStatistics, keepingActivatedInputs: Bool = false)
    -> (output: Tensor, activations: Any)
  {
    let recorded =
      keepingActivatedInputs
      ? activationsKeepingActivatedInputs(of: input, frozen: frozen) : activations(of: input, frozen: frozen)
    return (output(from: recorded, input: input), recorded)
  }

  /// `groupNormStatistics(in:)` for activations recorded by `recordedForward`.
  func groupNormStatistics(erased activations: Any) -> [(norm: GroupNorm, statistics: GroupNormStatistics)] {
    groupNormStatistics(in: activations as! Activations)
  }

  /// `backward` for activations recorded by `recordedForward`, recomputing them from `input` when nil.
  func erasedBackward(
    _ activations: Any?, input: Tensor, outputGradient: Tensor, frozen: FrozenGroupNormStatistics,
    needsInputGradient: Bool, gradients: inout ParameterGradients
  ) -> Tensor? {
    let recorded = activations.map { $0 as! Activations } ?? self.activations(of: input, frozen: frozen)
    return backward(
      recorded, input: input, outputGradient: outputGradient, frozen: frozen,
      needsInputGradient: needsInputGradient, gradients: &gradients)
  }
}
