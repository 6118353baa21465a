/// A LoRA with the strength it is applied at.
public struct ScaledLoRA: Sendable {
  /// The adapters read from one file.
  public let lora: LoRA
  /// The user scale: each module adds `scale · alpha / rank · up · down` to its layer's weight (1 applies the
  /// LoRA as trained, 0 not at all; diffusers' `lora_scale` / adapter weight).
  public let scale: Float

  /// Pairs a LoRA with a scale.
  /// - Parameters:
  ///   - lora: the LoRA.
  ///   - scale: the user scale (default 1).
  public init(_ lora: LoRA, scale: Float = 1) {
    self.lora = lora
    self.scale = scale
  }
}
