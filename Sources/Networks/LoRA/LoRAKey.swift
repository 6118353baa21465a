/// One tensor key of a LoRA file taken apart: which network, which layer, and which part of the module.
///
/// Recognised layouts (diffusers' names for the same layers, read in `lora_conversion_utils.py` and PEFT):
/// - kohya: `lora_unet_<path>` / `lora_te_<path>` (`lora_te1_`, `lora_te2_` for SDXL's two encoders), the path
///   with `_` for `.`, then `.lora_down.weight`, `.lora_up.weight` or `.alpha`;
/// - diffusers / PEFT: `unet.<path>` / `text_encoder.<path>` / `text_encoder_2.<path>`, then `.lora_A.weight`,
///   `.lora_B.weight` or `.alpha`;
/// - diffusers' older layouts: `….lora.down.weight` / `.up.weight` (`LoRACompatibleLinear`),
///   `….lora_linear_layer.down.weight` (text encoders), and the attention processors'
///   `….processor.to_q_lora.down.weight` (`to_k`, `to_v`, `to_out` for `to_out.0`; without a component
///   prefix, as `save_attn_procs` wrote them, they belong to the UNet).
struct LoRAKey {
  /// Which factor (or the alpha) a key holds.
  enum Part {
    case down, up, alpha
  }

  /// The network.
  let component: LoRAComponent
  /// The layer, relative to the network.
  let layer: LoRAModule.LayerName
  /// The factor or alpha.
  let part: Part
  /// The key without its part suffix, naming the module in messages.
  let modulePrefix: String

  private static let kohyaComponents: [(String, LoRAComponent)] = [
    ("lora_unet_", .unet), ("lora_te1_", .textEncoder), ("lora_te2_", .textEncoder2), ("lora_te_", .textEncoder),
  ]
  private static let kohyaParts: [(String, Part)] = [
    (".lora_down.weight", .down), (".lora_up.weight", .up), (".alpha", .alpha),
  ]
  private static let diffusersComponents: [(String, LoRAComponent)] = [
    ("unet.", .unet), ("text_encoder_2.", .textEncoder2), ("text_encoder.", .textEncoder),
  ]
  private static let diffusersParts: [(String, Part)] = [
    (".lora_A.weight", .down), (".lora_B.weight", .up), (".alpha", .alpha),
    (".lora.down.weight", .down), (".lora.up.weight", .up),
    (".lora_linear_layer.down.weight", .down), (".lora_linear_layer.up.weight", .up),
  ]
  private static let processorProjections = [
    ("to_q", "to_q"), ("to_k", "to_k"), ("to_v", "to_v"), ("to_out", "to_out.0"),
  ]

  /// Takes `key` apart, or returns nil when it is in none of the recognised layouts.
  init?(_ key: String) {
    for (prefix, component) in Self.kohyaComponents where key.hasPrefix(prefix) {
      for (suffix, part) in Self.kohyaParts where key.hasSuffix(suffix) {
        let name = key.dropFirst(prefix.count).dropLast(suffix.count)
        guard !name.isEmpty, !name.contains(".") else { return nil }
        self.init(component, .underscored(String(name)), part, String(key.dropLast(suffix.count)))
        return
      }
      return nil
    }
    var component = LoRAComponent.unet
    var path = Substring(key)
    if let (prefix, named) = Self.diffusersComponents.first(where: { key.hasPrefix($0.0) }) {
      component = named
      path = path.dropFirst(prefix.count)
    } else if !key.contains(".processor.") {
      return nil
    }
    for (projection, layer) in Self.processorProjections {
      for (suffix, part) in [(".down.weight", Part.down), (".up.weight", .up)] {
        let ending = ".processor.\(projection)_lora\(suffix)"
        guard path.hasSuffix(ending), path.count > ending.count else { continue }
        let module = "\(path.dropLast(ending.count)).\(layer)"
        self.init(component, .dotted(module), part, String(key.dropLast(suffix.count)))
        return
      }
    }
    for (suffix, part) in Self.diffusersParts where path.hasSuffix(suffix) && path.count > suffix.count {
      self.init(component, .dotted(String(path.dropLast(suffix.count))), part, String(key.dropLast(suffix.count)))
      return
    }
    return nil
  }

  private init(_ component: LoRAComponent, _ layer: LoRAModule.LayerName, _ part: Part, _ modulePrefix: String) {
    self.component = component
    self.layer = layer
    self.part = part
    self.modulePrefix = modulePrefix
  }
}
