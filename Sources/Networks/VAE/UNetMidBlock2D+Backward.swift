extension UNetMidBlock2D {
  /// The block's units for a training step, in forward order: `resnets.0`, `attentions.0` (when present),
  /// `resnets.1`. Run as a ``DifferentiableSequence`` they are its training forward and backward pass.
  public var differentiableBlocks: [any DifferentiableBlock] {
    [resnets[0]] + (attention.map { [$0] } ?? []) + [resnets[1]]
  }
}
