import TensorCore

/// Walks a layer tree once and collects `full.dotted.key → get/set` entries.
///
/// The one list of entries serves every consumer: the strict `WeightLoader`, parameter counting, key-listing
/// tests, optimisers (through ``Entry/update`` and, for gradients, ``Entry/identifier``), and snapshot/restore
/// of weights. Keys are the checkpoint keys of the diffusers /
/// transformers layout (`down_blocks.0.resnets.1.conv1.weight`).
public final class ParameterRegistry {
  /// One parameter: its full key, its shape when registered, and accessors to read and replace it.
  public struct Entry {
    /// The full dotted checkpoint key.
    public let key: String
    /// The layer instance and property holding the tensor (how ``ParameterGradients`` finds its gradient).
    public let identifier: ParameterIdentifier
    /// The parameter's shape at registration time (the shape a checkpoint must provide).
    public let shape: [Int]
    /// Reads the current tensor.
    public let get: () -> Tensor
    /// Replaces the tensor. The caller is responsible for keeping the shape.
    public let set: (Tensor) -> Void
    /// Lets a closure change the tensor in place as float32 (without a copy when its storage is not shared;
    /// half-precision storage becomes float32). The closure must keep the shape.
    public let update: ((inout Tensor) -> Void) -> Void
    /// Stores a loaded value, keeping fp16/bf16 storage where the layer supports it (else widening it).
    public let assign: (StoredTensor) -> Void
    /// Reads the parameter as it is stored, without widening: a ``StoredTensor`` parameter as it is (fp16, mapped
    /// or with low-rank updates), a float32 one wrapped.
    public let stored: () -> StoredTensor
    /// Bytes the parameter occupies in memory now.
    public let storedByteCount: () -> Int
  }

  /// The entries collected so far, in registration order.
  public private(set) var entries: [Entry] = []
  private var path: [String] = []

  /// Creates an empty registry.
  public init() {}

  /// Registers the parameter at `keyPath` of `layer` under `key` (relative to the current path).
  /// - Parameters:
  ///   - key: the checkpoint key of this parameter relative to its layer, e.g. `"weight"`.
  ///   - layer: the layer owning the parameter.
  ///   - keyPath: where the tensor is stored.
  public func tensor<L: Layer>(
    _ key: String, of layer: L, _ keyPath: ReferenceWritableKeyPath<L, Tensor>
  ) {
    let fullKey = (path + [key]).joined(separator: ".")
    entries.append(
      Entry(
        key: fullKey, identifier: ParameterIdentifier(layer, keyPath), shape: layer[keyPath: keyPath].shape,
        get: { layer[keyPath: keyPath] }, set: { layer[keyPath: keyPath] = $0 },
        update: { body in body(&layer[keyPath: keyPath]) },
        assign: { layer[keyPath: keyPath] = $0.tensor },
        stored: { StoredTensor(layer[keyPath: keyPath]) },
        storedByteCount: { layer[keyPath: keyPath].count * 4 }))
  }

  /// Registers an optional parameter; nil contributes no key. (Should it become nil later, the entry reads zeros.)
  public func tensor<L: Layer>(
    _ key: String, of layer: L, _ keyPath: ReferenceWritableKeyPath<L, Tensor?>
  ) {
    // Only the shape is captured: a captured tensor would share the parameter's storage and defeat `update`.
    guard let shape = layer[keyPath: keyPath]?.shape else { return }
    let fullKey = (path + [key]).joined(separator: ".")
    entries.append(
      Entry(
        key: fullKey, identifier: ParameterIdentifier(layer, keyPath), shape: shape,
        get: { layer[keyPath: keyPath] ?? Tensor(shape: shape) }, set: { layer[keyPath: keyPath] = $0 },
        update: { body in
          var value = layer[keyPath: keyPath] ?? Tensor(shape: shape)
          layer[keyPath: keyPath] = nil  // drop the layer's reference, so `value` is uniquely referenced
          body(&value)
          layer[keyPath: keyPath] = value
        },
        assign: { layer[keyPath: keyPath] = $0.tensor },
        stored: { StoredTensor(layer[keyPath: keyPath] ?? Tensor(shape: shape)) },
        storedByteCount: { (layer[keyPath: keyPath]?.count ?? 0) * 4 }))
  }

  /// Registers a parameter kept in its stored precision (``StoredTensor``): `get` widens it to float32,
  /// `set` stores float32, `assign` keeps fp16/bf16 bits as loaded.
  public func tensor<L: Layer>(
    _ key: String, of layer: L, _ keyPath: ReferenceWritableKeyPath<L, StoredTensor>
  ) {
    let fullKey = (path + [key]).joined(separator: ".")
    entries.append(
      Entry(
        key: fullKey, identifier: ParameterIdentifier(layer, keyPath), shape: layer[keyPath: keyPath].shape,
        get: { layer[keyPath: keyPath].tensor }, set: { layer[keyPath: keyPath] = StoredTensor($0) },
        update: { body in layer[keyPath: keyPath].withMutableTensor(body) },
        assign: { layer[keyPath: keyPath] = $0 },
        stored: { layer[keyPath: keyPath] },
        storedByteCount: { layer[keyPath: keyPath].byteCount }))
  }

  /// Registers a child layer's parameters under `key`; a nil child contributes no keys.
  public func child(_ key: String, _ layer: (any Layer)?) {
    guard let layer else { return }
    path.append(key)
    layer.registerParameters(in: self)
    path.removeLast()
  }

  /// Registers an array of children as `key.0`, `key.1`, … (PyTorch `ModuleList`).
  public func children(_ key: String, _ layers: [any Layer]) {
    for (index, layer) in layers.enumerated() { child("\(key).\(index)", layer) }
  }
}
