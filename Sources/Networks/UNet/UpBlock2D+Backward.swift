extension UpBlock2D {
  /// The block's units for a training step in the VAE's form (`UpDecoderBlock2D`: no skips, no attentions), in
  /// forward order: each ResNet, then the upsampler when present. Run as a ``DifferentiableSequence`` they are
  /// its training forward and backward pass.
  public var differentiableBlocks: [any DifferentiableBlock] {
    precondition(attentions.isEmpty, "UpBlock2D trains only in the VAE's form, without attentions")
    return resnets + (upsampler.map { [$0] } ?? [])
  }
}
