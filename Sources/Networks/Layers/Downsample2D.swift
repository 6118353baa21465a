import TensorCore

/// diffusers `Downsample2D` with `use_conv=True`: a 3×3 stride-2 convolution.
///
/// With `padding` 0 (the VAE encoder) the input is first padded by one zero row at the bottom and one zero
/// column at the right, as diffusers does. Checkpoint key: `conv`.
public final class Downsample2D: Layer {
  let conv: Conv2D
  let asymmetricPadding: Bool

  /// Creates a zero-initialised downsampler.
  public init(inputChannels: Int, outputChannels: Int, padding: Int) {
    conv = Conv2D(
      inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 3, stride: 2,
      padding: padding)
    asymmetricPadding = padding == 0
  }

  /// Registers `conv`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.child("conv", conv)
  }

  /// `x`: `[N, C, H, W]` → `[N, C_out, ⌈H/2⌉, ⌈W/2⌉]` (for even sizes: `[N, C_out, H/2, W/2]`).
  public func callAsFunction(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "Downsample2D expects [N, C, H, W], got \(x.shape)")
    guard asymmetricPadding else { return conv(x) }
    let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let right = Tensor.concatenated([x, Tensor(shape: [batch, channels, height, 1])], axis: 3)  // [N, C, H, W+1]
    let padded = Tensor.concatenated(
      [right, Tensor(shape: [batch, channels, 1, width + 1])], axis: 2)
    return conv(padded)
  }
}
