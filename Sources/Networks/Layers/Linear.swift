import TensorCore

/// A fully connected layer (PyTorch `nn.Linear`): `y = x · weightᵀ + bias`.
///
/// Checkpoint keys: `weight` `[outputCount, inputCount]`, `bias` `[outputCount]` (when present).
public final class Linear: Layer {
  /// `[outputCount, inputCount]`, in the precision it was loaded in (fp16 files stay fp16 in memory).
  public var storedWeight: StoredTensor
  /// `[outputCount, inputCount]` as float32 (widened on read; setting stores float32).
  public var weight: Tensor {
    get { storedWeight.tensor }
    set { storedWeight = StoredTensor(newValue) }
  }
  /// `[outputCount]`, or nil for a layer without bias.
  public var bias: Tensor?

  /// Creates a zero-initialised layer.
  /// - Parameters:
  ///   - inputCount: input features.
  ///   - outputCount: output features.
  ///   - bias: whether the layer has a bias.
  public init(inputCount: Int, outputCount: Int, bias: Bool = true) {
    storedWeight = .zeros(shape: [outputCount, inputCount])
    self.bias = bias ? Tensor(shape: [outputCount]) : nil
  }

  /// Registers `weight` and `bias`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.tensor("weight", of: self, \.storedWeight)
    registry.tensor("bias", of: self, \.bias)
  }

  /// `x`: `[..., inputCount]` → `[..., outputCount]`.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    linear(x, weight: storedWeight, bias: bias)
  }
}
