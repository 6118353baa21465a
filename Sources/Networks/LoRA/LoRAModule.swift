import TensorCore

/// One low-rank adapter of a LoRA file: the two factors and the alpha that change one linear or convolution
/// weight, and the name of the layer they change.
public struct LoRAModule: Sendable, Equatable {
  /// How the file names the layer.
  public enum LayerName: Sendable, Hashable, CustomStringConvertible {
    /// A diffusers module path (`down_blocks.0.attentions.0.proj_in`), as PEFT / diffusers files write it.
    case dotted(String)
    /// A module path with every `.` written as `_` (`down_blocks_0_attentions_0_proj_in`), as kohya files
    /// write it; resolved against the network's own parameter keys.
    case underscored(String)

    /// The name as written.
    public var description: String {
      switch self {
      case .dotted(let path), .underscored(let path): path
      }
    }
  }

  /// The network the module changes.
  public let component: LoRAComponent
  /// The layer it changes, relative to that network.
  public let layer: LayerName
  /// The file's key prefix of this module's tensors (`lora_unet_…_to_q`, `unet.….to_q`), for messages.
  public let keyPrefix: String
  /// The down factor as stored (widened to float32): `[r, I]` for a linear layer, `[r, I, k, k]` for a
  /// convolution (kohya `lora_down`, PEFT `lora_A`).
  public let down: Tensor
  /// The up factor as stored (widened to float32): `[O, r]` or `[O, r, 1, 1]` (kohya `lora_up`, PEFT `lora_B`).
  public let up: Tensor
  /// The module's alpha, or nil when the file has none (then alpha = rank, as diffusers assumes).
  public let alpha: Float?

  /// Creates a module from its parts (``LoRA/init(contentsOf:)`` reads them from a file).
  /// - Parameters:
  ///   - component: the network it changes.
  ///   - layer: the layer it changes.
  ///   - keyPrefix: the key prefix naming it in its file.
  ///   - down: `[r, I]` or `[r, I, k, k]`.
  ///   - up: `[O, r]` or `[O, r, 1, 1]`.
  ///   - alpha: the alpha, or nil for alpha = rank.
  public init(
    component: LoRAComponent, layer: LayerName, keyPrefix: String, down: Tensor, up: Tensor, alpha: Float?
  ) {
    self.component = component
    self.layer = layer
    self.keyPrefix = keyPrefix
    self.down = down
    self.up = up
    self.alpha = alpha
  }

  /// The rank `r`: the down factor's first extent.
  public var rank: Int { down.shape.first ?? 0 }

  /// `alpha / rank` (1 when the file has no alpha): the factor the file's training applied to `up · down`.
  public var alphaScale: Float { (alpha ?? Float(rank)) / Float(max(rank, 1)) }
}
