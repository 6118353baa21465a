import Foundation
import TensorCore

/// diffusers `TimestepEmbedding`: `linear_2(act(linear_1(sinusoid)))`.
///
/// Checkpoint keys: `linear_1`, `linear_2`.
public final class TimestepEmbedding: Layer {
  let linear1: Linear
  let linear2: Linear
  let activation: Activation

  /// Creates a zero-initialised embedding from `inputWidth` sinusoid features to `width`.
  public init(inputWidth: Int, width: Int, activation: Activation) {
    linear1 = Linear(inputCount: inputWidth, outputCount: width)
    linear2 = Linear(inputCount: width, outputCount: width)
    self.activation = activation
  }

  /// Registers `linear_1` and `linear_2`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("linear_1", linear1)
    registry.child("linear_2", linear2)
  }

  /// `x`: `[N, inputWidth]` → `[N, width]`.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    linear2(activated(linear1(x), activation))
  }

  /// diffusers `get_timestep_embedding`: `[sin(t·f_i), cos(t·f_i)]` with `f_i = exp(−ln(10⁴)·i / (D/2 − shift))`,
  /// halves swapped when `flipSinToCos`, computed in float32 as PyTorch does.
  /// - Returns: `[count, width]`, the same row repeated `count` times (one per batch item).
  public static func sinusoid(
    timestep: Double, width: Int, flipSinToCos: Bool, frequencyShift: Float,
    count: Int
  ) -> Tensor {
    let half = width / 2
    let logPeriod = Float(-log(10000.0))
    let t = Float(timestep)
    var row = [Float](repeating: 0, count: width)
    for i in 0..<half {
      let frequency = Float(exp(Double(logPeriod * Float(i) / (Float(half) - frequencyShift))))
      let argument = Double(t * frequency)
      let (sine, cosine) = (Float(sin(argument)), Float(cos(argument)))
      row[flipSinToCos ? half + i : i] = sine
      row[flipSinToCos ? i : half + i] = cosine
    }
    return Tensor(shape: [count, width], scalars: Array((0..<count).map { _ in row }.joined()))
  }
}
