import TensorCore

/// The parameter gradients `∂L/∂θ` of one training step, accumulated by the layers' backward passes.
///
/// A backward pass adds each gradient under the parameter's ``ParameterIdentifier`` (its layer and the property
/// the layer registers), never under a key: the checkpoint keys stay spelled only in `registerParameters(in:)`,
/// and a ``ParameterRegistry/Entry`` reads its gradient back with ``subscript(_:)``.
///
/// Layers can be frozen: their parameters get no gradient, and a backward pass may skip work that only they need
/// (see ``trains(_:)``).
public struct ParameterGradients {
  private var values: [ParameterIdentifier: Tensor] = [:]
  private let frozenLayers: Set<ObjectIdentifier>

  /// Creates an empty set of gradients.
  /// - Parameter frozenLayers: layers whose parameters are not trained: gradients for them are dropped.
  public init(freezing frozenLayers: [any Layer] = []) {
    self.frozenLayers = Set(frozenLayers.map { ObjectIdentifier($0) })
  }

  /// Whether `layer`'s parameters are trained (receive gradients), that is, whether it is not frozen.
  public func trains(_ layer: some Layer) -> Bool { !frozenLayers.contains(ObjectIdentifier(layer)) }

  /// The number of parameters that have a gradient.
  public var count: Int { values.count }

  /// Adds `gradient` to the gradient of the parameter at `keyPath` of `layer` (stores it if there is none yet);
  /// does nothing for a frozen layer.
  /// - Parameters:
  ///   - gradient: `∂L/∂θ`, the parameter's shape.
  ///   - layer: the layer owning the parameter.
  ///   - keyPath: the property the layer registers with `ParameterRegistry`.
  public mutating func accumulate<L: Layer, Value>(
    _ gradient: Tensor, for layer: L, _ keyPath: ReferenceWritableKeyPath<L, Value>
  ) {
    guard trains(layer) else { return }
    let identifier = ParameterIdentifier(layer, keyPath)
    if values[identifier] == nil {
      values[identifier] = gradient
    } else {
      values[identifier]!.add(gradient)
    }
  }

  /// The gradient of the parameter `entry` describes, or nil if no backward pass reached it.
  public subscript(_ entry: ParameterRegistry.Entry) -> Tensor? { values[entry.identifier] }

  /// The gradients of `layer`'s parameters by full checkpoint key (parameters without a gradient are left out).
  /// - Parameter layer: the root whose registry names the keys (`AutoencoderKL` gives `decoder.…` keys).
  public func byKey(in layer: any Layer) -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    for entry in layer.parameterEntries {
      if let gradient = values[entry.identifier] { result[entry.key] = gradient }
    }
    return result
  }
}
