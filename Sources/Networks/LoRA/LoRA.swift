import Foundation
import TensorCore

/// The low-rank adapters of one LoRA safetensors file, for the UNet and text encoder of a Stable Diffusion
/// model (``StableDiffusionModel/apply(_:)``).
///
/// Reads kohya files (`lora_unet_…`, `lora_te_…`, `.lora_down.weight`, `.lora_up.weight`, `.alpha`),
/// diffusers / PEFT files (`unet.….lora_A.weight`, `.lora_B.weight`, `text_encoder.…`) and diffusers' older
/// attention-processor layout (`….processor.to_q_lora.down.weight`). Linear layers and convolutions (LoCon:
/// down `[r, I, k, k]`, up `[O, r, 1, 1]`) are supported. Reading checks the file on its own (every key is
/// recognised, every module has both factors of one rank); whether the layers exist and the shapes fit is
/// checked when the LoRA is applied to a model.
///
/// Matches: diffusers 0.42 `load_lora_weights` + `fuse_lora(lora_scale:)`: each module adds
/// `scale · alpha / rank · up · down` to its layer's weight, with alpha = rank when the file has none.
/// Alphas come from `.alpha` tensors, else from the `lora_adapter_metadata` header entry that diffusers writes
/// for PEFT-layout files (`unet.lora_alpha`, `unet.alpha_pattern`), else alpha = rank.
/// Limitations: no LoHa, LoKr, DoRA or Tucker (`lora_mid`) modules; no LoRA biases; no LDM-named kohya keys
/// (`lora_unet_input_blocks_…`).
public struct LoRA: Sendable {
  /// The file the adapters were read from.
  public let url: URL
  /// The adapters, ordered by their key prefixes in the file.
  public let modules: [LoRAModule]

  /// Reads every LoRA module of a safetensors file (factors widened to float32; the file is closed afterwards).
  /// - Parameter url: a `.safetensors` LoRA file.
  /// - Throws: ``LoRAError/pickleFile(file:)`` for pickle files, `.unreadable` for other unreadable files,
  ///   `.empty`, `.unrecognizedKeys`, `.missingHalves` or `.malformedModules` naming the keys or modules.
  public init(contentsOf url: URL) throws(LoRAError) {
    let path = url.path
    do { try CheckpointFamily.refusePickle(url) } catch { throw .pickleFile(file: path) }
    let file: SafetensorsFile
    do { file = try SafetensorsFile(contentsOf: url) } catch {
      throw .unreadable(file: path, reason: (error as? SafetensorsError)?.reason ?? "\(error)")
    }

    struct Parts {
      var key: LoRAKey
      var down: String?
      var up: String?
      var alpha: String?
    }
    var groups: [String: Parts] = [:]
    var unrecognized: [String] = []
    for name in file.tensorNames {
      guard let key = LoRAKey(name) else {
        unrecognized.append(name)
        continue
      }
      let group = "\(key.component.rawValue)/\(key.layer)"
      var parts = groups[group] ?? Parts(key: key)
      switch key.part {
      case .down: parts.down = name
      case .up: parts.up = name
      case .alpha: parts.alpha = name
      }
      groups[group] = parts
    }
    guard unrecognized.isEmpty else { throw .unrecognizedKeys(file: path, keys: unrecognized) }
    let metadata = try LoRAAdapterMetadata(header: file.metadata, file: path)
    guard !groups.isEmpty else { throw .empty(file: path) }

    let ordered = groups.values.sorted { $0.key.modulePrefix < $1.key.modulePrefix }
    let incomplete = ordered.filter { $0.down == nil || $0.up == nil }.map(\.key.modulePrefix)
    guard incomplete.isEmpty else { throw .missingHalves(file: path, modules: incomplete) }

    func read(_ name: String) throws(LoRAError) -> Tensor {
      do { return try file.tensor(named: name) } catch {
        throw .unreadable(file: path, reason: (error as? SafetensorsError)?.reason ?? "\(error)")
      }
    }
    var modules: [LoRAModule] = []
    var malformed: [String] = []
    for parts in ordered {
      let (down, up) = (try read(parts.down!), try read(parts.up!))
      let alpha = try parts.alpha.map { name throws(LoRAError) in try read(name) }
      guard Self.isLowRankPair(down: down, up: up), alpha.map({ $0.count == 1 }) ?? true else {
        malformed.append("\(parts.key.modulePrefix) (down \(down.shape), up \(up.shape))")
        continue
      }
      modules.append(
        LoRAModule(
          component: parts.key.component, layer: parts.key.layer, keyPrefix: parts.key.modulePrefix,
          down: down, up: up,
          alpha: alpha?.scalars[0] ?? metadata.alpha(for: parts.key.component, layer: parts.key.layer)))
    }
    guard malformed.isEmpty else { throw .malformedModules(file: path, modules: malformed) }
    self.url = url
    self.modules = modules
  }

  /// Whether `down` `[r, I(, k, k)]` and `up` `[O, r(, 1, 1)]` make a rank-`r` product with `r ≥ 1`.
  private static func isLowRankPair(down: Tensor, up: Tensor) -> Bool {
    guard [2, 4].contains(down.rank), [2, 4].contains(up.rank), down.shape[0] > 0 else { return false }
    return up.shape[1] == down.shape[0] && (up.rank == 2 || up.shape[2...] == [1, 1])
  }
}
