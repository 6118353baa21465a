import TensorCore

/// diffusers `Upsample2D` with `use_conv=True`: nearest-neighbour 2× upsampling, then a 3×3 convolution.
///
/// Checkpoint key: `conv`.
public final class Upsample2D: Layer {
  let conv: Conv2D

  /// Creates a zero-initialised upsampler.
  public init(channels: Int, outputChannels: Int) {
    conv = Conv2D(
      inputChannels: channels, outputChannels: outputChannels, kernelSize: 3, padding: 1)
  }

  /// Registers `conv`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("conv", conv)
  }

  /// `x`: `[N, C, H, W]` → `[N, C_out, 2H, 2W]`.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "Upsample2D expects [N, C, H, W], got \(x.shape)")
    return conv(upsampleNearest2x(x))
  }
}
