import TensorCore

/// A node of a network that owns parameters and/or child layers.
///
/// Conformers are `final class`es with `let` children and `var` parameter tensors stored in PyTorch layout.
/// `registerParameters(in:)` is the single place where a layer names its checkpoint keys: it calls
/// `registry.tensor(_:of:_:)` for each parameter it owns and `registry.child(_:_:)` for each sub-layer, with
/// keys relative to the parent (diffusers / transformers names, so the mapping to a checkpoint is the identity).
///
/// Sharing across tasks: the whole models (`UNet2DConditionModel`, `AutoencoderKL`, `CLIPTextModel`,
/// `CLIPModel`) are `@unchecked Sendable` under one rule — parameters change only through the registry
/// (loading, `restoreParameters(from:)`, random initialisation), which their owner does before sharing the model;
/// forward passes only read them, so any number may run at once. Nothing in the package mutates a shared model
/// (decoder fine-tuning trains its own copy).
public protocol Layer: AnyObject {
  /// Registers this layer's parameters and children with `registry`, each under its checkpoint key.
  /// - Parameter registry: the registry walking the layer tree.
  func registerParameters(in registry: ParameterRegistry)
}

extension Layer {
  /// Every parameter of this layer tree, keyed by its full dotted checkpoint key, in registration order.
  public var parameterEntries: [ParameterRegistry.Entry] {
    let registry = ParameterRegistry()
    registerParameters(in: registry)
    return registry.entries
  }

  /// The entries of the parameters that `subtree` (a layer of this tree) registers, under their full keys in
  /// this tree (`decoder.conv_in.weight` for an autoencoder's decoder), in registration order.
  /// - Parameter subtree: a layer reachable from this one.
  public func parameterEntries(of subtree: any Layer) -> [ParameterRegistry.Entry] {
    let identifiers = Set(subtree.parameterEntries.map(\.identifier))
    return parameterEntries.filter { identifiers.contains($0.identifier) }
  }

  /// The number of scalars in all parameters of this layer tree.
  public var parameterCount: Int {
    parameterEntries.reduce(0) { $0 + $1.shape.reduce(1, *) }
  }

  /// The bytes the parameters occupy in memory (fp16/bf16 weights kept as loaded count 2 bytes each).
  public var parameterByteCount: Int {
    parameterEntries.reduce(0) { $0 + $1.storedByteCount() }
  }

  /// A copy of every parameter tensor by full key (for example to restore weights after fine-tuning).
  public func parameterSnapshot() -> [String: Tensor] {
    var snapshot: [String: Tensor] = [:]
    for entry in parameterEntries { snapshot[entry.key] = entry.get() }
    return snapshot
  }

  /// Writes back tensors taken with `parameterSnapshot()`; keys not in `snapshot` are left unchanged.
  /// - Precondition: each tensor has the shape of the parameter it replaces.
  public func restoreParameters(from snapshot: [String: Tensor]) {
    for entry in parameterEntries {
      guard let tensor = snapshot[entry.key] else { continue }
      precondition(
        tensor.shape == entry.shape, "restore '\(entry.key)': \(tensor.shape) ≠ \(entry.shape)")
      entry.set(tensor)
    }
  }
}
