import Foundation

/// Rewrites of a checkpoint's key set applied before strict loading, as data (no per-layer code).
///
/// Two kinds of rule, applied in this order to every file key:
/// - `addedPrefixes`: add the prefix to every key when no file key already starts with it. This accepts text
///   encoders written by transformers 5 (keys `embeddings.…`) next to the published SD layout
///   (`text_model.embeddings.…`).
/// - `replacements`: replace a substring. This accepts the deprecated attention-block names that the
///   published SD 1.x / 2.x VAE checkpoints still use (`mid_block.attentions.0.query` for `…to_q`), exactly
///   as diffusers' `_fix_state_dict_keys_on_load` does.
public struct KeyRenaming: Sendable, Equatable {
  /// One substring rewrite.
  public struct Replacement: Sendable, Equatable {
    /// The substring found in file keys.
    public var target: String
    /// What it becomes in the canonical key.
    public var replacement: String

    /// Creates a rewrite of `target` to `replacement`.
    public init(_ target: String, _ replacement: String) {
      self.target = target
      self.replacement = replacement
    }
  }

  /// Prefixes to add when the file has no key under them.
  public var addedPrefixes: [String]
  /// Substring rewrites, applied in order.
  public var replacements: [Replacement]

  /// Creates a renaming from its rules.
  public init(addedPrefixes: [String] = [], replacements: [Replacement] = []) {
    self.addedPrefixes = addedPrefixes
    self.replacements = replacements
  }

  /// No renaming.
  public static let identity = KeyRenaming()

  /// transformers' `CLIPTextModel`: keys without `text_model.` are moved under it.
  public static let clipTextModel = KeyRenaming(addedPrefixes: ["text_model."])

  /// diffusers' `AutoencoderKL`: the deprecated mid-block attention names (`query`, `key`, `value`,
  /// `proj_attn`) become `to_q`, `to_k`, `to_v`, `to_out.0`.
  public static let autoencoderKL = KeyRenaming(
    replacements: ["encoder", "decoder"].flatMap { half in
      [("query", "to_q"), ("key", "to_k"), ("value", "to_v"), ("proj_attn", "to_out.0")].map {
        Replacement(
          "\(half).mid_block.attentions.0.\($0.0).", "\(half).mid_block.attentions.0.\($0.1).")
      }
    })

  /// The canonical key for each file key.
  /// - Parameter fileKeys: every tensor name of the checkpoint.
  /// - Returns: file key → canonical key.
  public func canonicalKeys(for fileKeys: [String]) -> [String: String] {
    var mapping = Dictionary(fileKeys.map { ($0, $0) }, uniquingKeysWith: { first, _ in first })
    for prefix in addedPrefixes where !fileKeys.contains(where: { $0.hasPrefix(prefix) }) {
      for key in fileKeys { mapping[key] = prefix + (mapping[key] ?? key) }
    }
    if !replacements.isEmpty {
      for (fileKey, key) in mapping {
        var renamed = key
        for rule in replacements where renamed.contains(rule.target) {
          renamed = renamed.replacingOccurrences(of: rule.target, with: rule.replacement)
        }
        mapping[fileKey] = renamed
      }
    }
    return mapping
  }
}
