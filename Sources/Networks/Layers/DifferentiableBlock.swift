import TensorCore

/// A unit of a training step: a layer (or a short fixed chain of layers) whose forward pass records what its
/// backward pass needs.
///
/// A ``DifferentiableSequence`` runs blocks in order. Each block's input is always kept for the backward pass;
/// its ``Activations`` (the tensors beyond the input) are kept when an ``ActivationPlan`` has room for them and
/// otherwise dropped and recomputed from the input when the block's gradient is due (checkpointing by block).
/// The forward pass is split in two so that recomputation can stop short of the block's last operation:
/// `output(from: activations(of: x, frozen:), input: x)` is the block's forward.
///
/// Conformers: `Conv2D`, `ResnetBlock2D` (without time embedding), `Attention` (the spatial form), `Upsample2D`
/// and the VAE decoder's output head. Their backward passes live beside their forwards (`Type+Backward.swift`).
public protocol DifferentiableBlock {
  /// What the backward pass needs from the forward pass, beyond the block's input.
  associatedtype Activations

  /// The layers whose parameters the block uses, whose gradients its backward pass accumulates.
  var parameterLayers: [any Layer] { get }

  /// The forward pass up to (not including) the block's last operation, recording what the backward pass needs.
  /// - Parameters:
  ///   - input: `[N, C, H, W]`.
  ///   - frozen: group-norm statistics to use instead of the inputs' own.
  /// - Returns: the recorded activations.
  func activations(of input: Tensor, frozen: FrozenGroupNormStatistics) -> Activations

  /// `activations(of:frozen:)` that also keeps the activated inputs of the block's convolutions (the SiLU outputs
  /// that feed them), so that neither `output(from:input:)` nor the backward pass recomputes them. The same values
  /// either way; blocks with none (see `activatedInputFloats(forInput:)`) record what `activations(of:frozen:)` does.
  func activationsKeepingActivatedInputs(of input: Tensor, frozen: FrozenGroupNormStatistics) -> Activations

  /// The rest of the forward pass: the block's output from its recorded activations and its input.
  /// - Parameters:
  ///   - activations: what `activations(of:frozen:)` recorded for `input`.
  ///   - input: the block's input, `[N, C, H, W]`.
  /// - Returns: `[N, C′, H′, W′]`, see `outputShape(forInput:)`.
  func output(from activations: Activations, input: Tensor) -> Tensor

  /// The backward pass: adds `∂L/∂θ` of the block's parameters to `gradients` and returns `∂L/∂input`.
  /// - Parameters:
  ///   - activations: what `activations(of:frozen:)` recorded for `input`, kept or recomputed.
  ///   - input: the block's input.
  ///   - outputGradient: `∂L/∂output`, the output's shape.
  ///   - frozen: the statistics the forward pass used as constants (no gradient flows through them).
  ///   - needsInputGradient: false skips what only `∂L/∂input` needs (the first trained block's input is fixed).
  ///   - gradients: where the parameter gradients are added.
  /// - Returns: `∂L/∂input`, the input's shape, or nil when not needed.
  func backward(
    _ activations: Activations, input: Tensor, outputGradient: Tensor, frozen: FrozenGroupNormStatistics,
    needsInputGradient: Bool, gradients: inout ParameterGradients
  ) -> Tensor?

  /// The group norms of the block with the statistics they used in the forward pass that recorded `activations`.
  func groupNormStatistics(in activations: Activations) -> [(norm: GroupNorm, statistics: GroupNormStatistics)]

  /// The output shape for an input of shape `inputShape` (`[N, C, H, W]`), without running anything.
  func outputShape(forInput inputShape: [Int]) -> [Int]

  /// What keeping the activations costs in floats, and what recomputing them costs in floating-point operations
  /// (multiply and add counted apart), for an input of shape `inputShape`; both 0 when there is nothing beyond
  /// the input to keep.
  func activationCost(forInput inputShape: [Int]) -> (floats: Int, recomputeFLOPs: Double)

  /// The floats of the activated inputs `activationsKeepingActivatedInputs(of:frozen:)` keeps beyond
  /// `activationCost(forInput:)`'s, for an input of shape `inputShape`; 0 when the block has none.
  func activatedInputFloats(forInput inputShape: [Int]) -> Int
}

extension DifferentiableBlock {
  /// No activated inputs to keep: the plain recorded activations.
  public func activationsKeepingActivatedInputs(of input: Tensor, frozen: FrozenGroupNormStatistics) -> Activations {
    activations(of: input, frozen: frozen)
  }

  /// No activated inputs to keep.
  public func activatedInputFloats(forInput inputShape: [Int]) -> Int { 0 }
}

extension DifferentiableBlock where Self: Layer {
  /// The block is a single layer tree: its own parameters.
  public var parameterLayers: [any Layer] { [self] }
}

extension DifferentiableBlock where Activations == Void {
  /// Nothing beyond the input is recorded.
  public func activations(of input: Tensor, frozen: FrozenGroupNormStatistics) {}

  /// Nothing beyond the input is recorded, so there are no group-norm statistics to report.
  public func groupNormStatistics(in activations: Void) -> [(norm: GroupNorm, statistics: GroupNormStatistics)] { [] }

  /// Nothing beyond the input is kept, so there is nothing to cost.
  public func activationCost(forInput inputShape: [Int]) -> (floats: Int, recomputeFLOPs: Double) { (0, 0) }
}
