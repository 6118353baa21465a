import Foundation

/// The alphas that diffusers (0.34 and later) writes into a LoRA file's header: `lora_adapter_metadata`, each
/// component's PEFT `LoraConfig` as JSON with keys prefixed by the component (`unet.lora_alpha`,
/// `unet.alpha_pattern`, `text_encoder.lora_alpha`, …). Files in the PEFT layout carry no `.alpha` tensors, so
/// this is where an alpha ≠ rank lives.
///
/// Matches: PEFT's `get_pattern_key` for `alpha_pattern` keys that are module names (`to_k` matches
/// `….attn1.to_k`; a leading `^` anchors the whole path). Limitations: regular-expression patterns beyond that.
struct LoRAAdapterMetadata {
  /// The header key diffusers writes.
  static let headerKey = "lora_adapter_metadata"

  private var alphas: [LoRAComponent: Float] = [:]
  private var patterns: [LoRAComponent: [(pattern: String, alpha: Float)]] = [:]

  /// Reads the metadata of a file's header (none: every alpha is nil).
  /// - Throws: ``LoRAError/unreadable(file:reason:)`` when the entry is not a JSON object.
  init(header: [String: String], file: String) throws(LoRAError) {
    guard let text = header[Self.headerKey] else { return }
    guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
      throw .unreadable(file: file, reason: "'\(Self.headerKey)' in the header is not a JSON object")
    }
    for component in LoRAComponent.allCases {
      if let alpha = object["\(component.rawValue).lora_alpha"] as? NSNumber {
        alphas[component] = alpha.floatValue
      }
      if let pattern = object["\(component.rawValue).alpha_pattern"] as? [String: Any] {
        patterns[component] = pattern.compactMap { key, value in
          (value as? NSNumber).map { (key, $0.floatValue) }
        }.sorted { $0.pattern < $1.pattern }
      }
    }
  }

  /// The alpha the metadata gives a module, or nil.
  /// - Parameters:
  ///   - component: the module's network.
  ///   - layer: the module's layer.
  func alpha(for component: LoRAComponent, layer: LoRAModule.LayerName) -> Float? {
    let path = layer.description
    for (pattern, alpha) in patterns[component] ?? [] {
      let matches =
        pattern.hasPrefix("^") ? path == pattern.dropFirst() : (path == pattern || path.hasSuffix("." + pattern))
      if matches { return alpha }
    }
    return alphas[component]
  }
}
