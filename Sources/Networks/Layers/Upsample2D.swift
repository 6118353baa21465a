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

  /// `x`: `[N, C, H, W]` → `[N, C_out, 2H, 2W]`, or `[N, C_out, size.height, size.width]` when `size` is
  /// given (diffusers' `output_size`, PyTorch's nearest rule).
  public func callAsFunction(_ x: Tensor, size: (height: Int, width: Int)? = nil) -> Tensor {
    precondition(x.rank == 4, "Upsample2D expects [N, C, H, W], got \(x.shape)")
    guard let size, size != (2 * x.shape[2], 2 * x.shape[3]) else {
      return conv(upsampling: x)
    }
    return conv(interpolatedNearest(x, height: size.height, width: size.width))
  }
}
