/// The network of a Stable Diffusion model that a LoRA module changes, named by the file's key prefix.
public enum LoRAComponent: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
  /// The UNet (`lora_unet_…`, `unet.…`).
  case unet
  /// The (first) text encoder (`lora_te_…`, `lora_te1_…`, `text_encoder.…`).
  case textEncoder = "text_encoder"
  /// The second text encoder of SDXL (`lora_te2_…`, `text_encoder_2.…`), which SD 1.x / 2.x models lack.
  case textEncoder2 = "text_encoder_2"

  /// The diffusers component name (`unet`, `text_encoder`, `text_encoder_2`).
  public var description: String { rawValue }
}
