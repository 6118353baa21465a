/// Which parameter of which layer instance: the layer's object identity and the key path of the property that
/// stores the tensor.
///
/// It names a parameter without its checkpoint key, so code that is not `registerParameters(in:)` — a backward
/// pass accumulating gradients into ``ParameterGradients`` — can refer to a parameter while the key stays spelled
/// in one place; ``ParameterRegistry/Entry/identifier`` connects the two.
public struct ParameterIdentifier: Hashable {
  /// The owning layer instance.
  let layer: ObjectIdentifier
  /// The property holding the tensor (`\Conv2D.storedWeight`, `\GroupNorm.bias`, …).
  let keyPath: AnyKeyPath

  /// The parameter stored at `keyPath` of `layer`.
  /// - Parameters:
  ///   - layer: the layer owning the parameter.
  ///   - keyPath: the property the layer registers (the same key path it passes to the registry).
  public init<L: Layer, Value>(_ layer: L, _ keyPath: ReferenceWritableKeyPath<L, Value>) {
    self.layer = ObjectIdentifier(layer)
    self.keyPath = keyPath
  }
}
