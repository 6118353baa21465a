import TensorCore

/// diffusers `GEGLU`: a projection to twice the inner width, split into `(h, g)`, returning `h · gelu(g)`.
///
/// Checkpoint key: `proj` (`Linear(width, 2·inner)`).
public final class GEGLU: Layer {
  let projection: Linear

  /// Creates a zero-initialised GEGLU from `inputWidth` to `outputWidth` features.
  public init(inputWidth: Int, outputWidth: Int) {
    projection = Linear(inputCount: inputWidth, outputCount: 2 * outputWidth)
  }

  /// Registers `proj`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("proj", projection)
  }

  /// `x`: `[..., inputWidth]` → `[..., outputWidth]`.
  public func callAsFunction(_ x: Tensor) -> Tensor { geglu(projection(x)) }
}

/// diffusers `FeedForward` with `activation_fn="geglu"` (the transformer MLP of Stable Diffusion's UNet).
///
/// Checkpoint keys: `net.0` (GEGLU), `net.2` (`Linear(inner, width)`); `net.1` is dropout.
/// Matches: diffusers `FeedForward(dim, mult=4, activation_fn="geglu")`.
public final class FeedForward: Layer {
  let gate: GEGLU
  let output: Linear

  /// Creates a zero-initialised feed-forward block of inner width `multiplier × width`.
  public init(width: Int, multiplier: Int = 4) {
    gate = GEGLU(inputWidth: width, outputWidth: multiplier * width)
    output = Linear(inputCount: multiplier * width, outputCount: width)
  }

  /// Registers `net.0` and `net.2`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("net.0", gate)
    registry.child("net.2", output)
  }

  /// `x`: `[..., width]` → `[..., width]`.
  public func callAsFunction(_ x: Tensor) -> Tensor { output(gate(x)) }
}
