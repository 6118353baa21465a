import Foundation

/// Why a LoRA file cannot be read or applied. Every case names the file and lists the offending keys or
/// modules (the first few and how many there are).
public enum LoRAError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
  /// A pickle file (`.ckpt`, `.pt`, `.pth`, `.bin`): unpickling can run arbitrary code, so it is never opened.
  case pickleFile(file: String)
  /// The file is not a readable safetensors file, or a tensor cannot be read as float32.
  case unreadable(file: String, reason: String)
  /// The file holds no LoRA tensor at all.
  case empty(file: String)
  /// Keys that are neither a kohya (`lora_unet_…`/`lora_te_…` with `.lora_down.weight`, `.lora_up.weight`,
  /// `.alpha`) nor a diffusers / PEFT (`unet.…`/`text_encoder.…` with `.lora_A.weight`, `.lora_B.weight`) LoRA
  /// tensor; LoHa, LoKr, DoRA and LoCon's Tucker `lora_mid` tensors land here too.
  case unrecognizedKeys(file: String, keys: [String])
  /// Modules with only an up or only a down factor (named by key prefix).
  case missingHalves(file: String, modules: [String])
  /// Modules whose factors do not make a low-rank product: up and down ranks differ, a factor has the wrong
  /// number of axes, the up factor is not 1×1, or alpha is not one number.
  case malformedModules(file: String, modules: [String])
  /// Modules naming no linear or convolution layer of the network.
  case unknownModules(file: String, component: LoRAComponent, modules: [String])
  /// Underscored (kohya) module names that fit more than one layer of the network.
  case ambiguousModules(file: String, component: LoRAComponent, modules: [String])
  /// Modules whose factors do not fit their layer's weight (often a LoRA made for another model family).
  case shapeMismatch(file: String, component: LoRAComponent, modules: [String])
  /// Modules for a network this model does not have (`lora_te2_…` on an SD 1.x / 2.x model).
  case missingComponent(file: String, component: LoRAComponent, modules: [String])

  /// One line naming the file and the offending keys.
  public var description: String {
    switch self {
    case .pickleFile(let file):
      "\(file) is a pickle file, which can run arbitrary code when loaded, so it is not opened; convert the LoRA "
        + "to .safetensors first (for example with safetensors.torch.save_file in a trusted environment)"
    case .unreadable(let file, let reason): "\(file): cannot read the LoRA: \(reason)"
    case .empty(let file): "\(file): no LoRA tensors in the file"
    case .unrecognizedKeys(let file, let keys):
      "\(file): not kohya or diffusers/PEFT LoRA tensors (LoHa, LoKr, DoRA and lora_mid are not supported): "
        + Self.list(keys, noun: "key")
    case .missingHalves(let file, let modules):
      "\(file): LoRA modules without their up or down weight: \(Self.list(modules, noun: "module"))"
    case .malformedModules(let file, let modules):
      "\(file): malformed LoRA modules (up and down ranks differ, or a factor or alpha has the wrong shape): "
        + Self.list(modules, noun: "module")
    case .unknownModules(let file, let component, let modules):
      "\(file): LoRA modules that name no linear or convolution layer of the \(component): "
        + Self.list(modules, noun: "module")
    case .ambiguousModules(let file, let component, let modules):
      "\(file): LoRA module names that fit several layers of the \(component): \(Self.list(modules, noun: "module"))"
    case .shapeMismatch(let file, let component, let modules):
      "\(file): LoRA modules that do not fit the \(component)'s weights (a LoRA for another model family?): "
        + Self.list(modules, noun: "module")
    case .missingComponent(let file, let component, let modules):
      "\(file): the model has no \(component) for these LoRA modules: \(Self.list(modules, noun: "module"))"
    }
  }

  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }

  /// "N nouns (a, b, c, … and M more)": the first five items and the count.
  static func list(_ items: [String], noun: String) -> String {
    let shown = items.prefix(5).joined(separator: ", ")
    let rest = items.count > 5 ? ", … and \(items.count - 5) more" : ""
    return "\(items.count) \(noun)\(items.count == 1 ? "" : "s") (\(shown)\(rest))"
  }
}
