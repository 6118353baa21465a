import TensorCore

extension StableDiffusionModel {
  /// Applies LoRAs to the UNet and text encoders (SDXL's second one too), each at its scale, without copying any base weight: each
  /// changed layer keeps its stored weight (memory-mapped weights stay mapped) and adds
  /// `Σ scale · alpha / rank · up · down` when it reads its weight for a forward pass (``LowRankUpdate``).
  ///
  /// Every LoRA is checked against the model before any is applied, so a failure changes nothing. LoRAs already
  /// applied stay; ``removeLoRAs()`` takes them all off. Like loading, this changes the networks' parameters:
  /// call it before the model is shared with editors or tasks.
  /// - Parameter loras: the LoRAs and their scales; several may change the same layer.
  /// - Throws: ``LoRAError`` naming the file and modules: `.missingComponent` for a network the model lacks
  ///   (`lora_te2_…` on an SD 1.x / 2.x model), `.unknownModules`, `.ambiguousModules` or `.shapeMismatch`.
  public func apply(_ loras: [ScaledLoRA]) throws(LoRAError) {
    var indexes: [LoRAComponent: LoRATargetIndex] = [
      .unet: LoRATargetIndex(component: .unet, network: unet),
      .textEncoder: LoRATargetIndex(component: .textEncoder, network: textEncoder, optionalPrefix: "text_model."),
    ]
    if let secondTextEncoder {
      indexes[.textEncoder2] = LoRATargetIndex(
        component: .textEncoder2, network: secondTextEncoder, optionalPrefix: "text_model.")
    }
    var changes: [(entry: ParameterRegistry.Entry, update: LowRankUpdate)] = []
    for scaled in loras {
      let file = scaled.lora.url.path
      for component in LoRAComponent.allCases {
        let modules = scaled.lora.modules.filter { $0.component == component }
        guard !modules.isEmpty else { continue }
        guard let index = indexes[component] else {
          throw .missingComponent(file: file, component: component, modules: modules.map(\.keyPrefix))
        }
        changes += try index.updates(for: modules, scale: scaled.scale, file: file)
      }
    }
    for change in changes { change.entry.assign(change.entry.stored().adding(change.update)) }
  }

  /// Applies one LoRA at `scale`, as the `[ScaledLoRA]` form does.
  /// - Parameters:
  ///   - lora: the LoRA.
  ///   - scale: the user scale (default 1).
  /// - Throws: ``LoRAError``, as the `[ScaledLoRA]` form.
  public func apply(_ lora: LoRA, scale: Float = 1) throws(LoRAError) {
    try apply([ScaledLoRA(lora, scale: scale)])
  }

  /// Takes every applied LoRA off the UNet and text encoders: the weights read as they were loaded.
  public func removeLoRAs() {
    let secondEntries = secondTextEncoder?.parameterEntries ?? []
    for entry in unet.parameterEntries + textEncoder.parameterEntries + secondEntries {
      let stored = entry.stored()
      if !stored.lowRankUpdates.isEmpty { entry.assign(stored.withoutLowRankUpdates) }
    }
  }
}
