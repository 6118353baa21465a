/// Rewrites of a checkpoint's key set applied before strict loading, as data (no per-layer code).
///
/// Each rule adds `prefix` to every file key when no file key already starts with it. This accepts, for
/// example, text encoders written by transformers 5 (keys `embeddings.…`) next to the published SD layout
/// (`text_model.embeddings.…`).
public struct KeyRenaming: Sendable, Equatable {
  /// Prefixes to add when the file has no key under them.
  public var addedPrefixes: [String]

  /// Creates a renaming from its rules.
  public init(addedPrefixes: [String] = []) {
    self.addedPrefixes = addedPrefixes
  }

  /// No renaming.
  public static let identity = KeyRenaming()

  /// transformers' `CLIPTextModel`: keys without `text_model.` are moved under it.
  public static let clipTextModel = KeyRenaming(addedPrefixes: ["text_model."])

  /// The canonical key for each file key.
  /// - Parameter fileKeys: every tensor name of the checkpoint.
  /// - Returns: file key → canonical key.
  public func canonicalKeys(for fileKeys: [String]) -> [String: String] {
    var mapping = Dictionary(fileKeys.map { ($0, $0) }, uniquingKeysWith: { first, _ in first })
    for prefix in addedPrefixes where !fileKeys.contains(where: { $0.hasPrefix(prefix) }) {
      for key in fileKeys { mapping[key] = prefix + (mapping[key] ?? key) }
    }
    return mapping
  }
}
