import TensorCore

/// A 2-D convolution (PyTorch `nn.Conv2d` with square kernel, stride and symmetric zero padding).
///
/// Checkpoint keys: `weight` `[O, I, k, k]`, `bias` `[O]`.
public final class Conv2D: Layer {
  /// `[outputChannels, inputChannels, kernelSize, kernelSize]` in the precision it was loaded in (fp16 stays fp16).
  public var storedWeight: StoredTensor
  /// `[O, C, kH, kW]` as float32 (widened on read; setting stores float32).
  public var weight: Tensor {
    get { storedWeight.tensor }
    set { storedWeight = StoredTensor(newValue) }
  }
  /// `[outputChannels]`, or nil.
  public var bias: Tensor?
  /// The stride in both directions.
  public let stride: Int
  /// Zero padding on every side.
  public let padding: Int

  /// Creates a zero-initialised convolution.
  public init(
    inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
    bias: Bool = true
  ) {
    storedWeight = .zeros(shape: [outputChannels, inputChannels, kernelSize, kernelSize])
    self.bias = bias ? Tensor(shape: [outputChannels]) : nil
    self.stride = stride
    self.padding = padding
  }

  /// Registers `weight` and `bias`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.tensor("weight", of: self, \.storedWeight)
    registry.tensor("bias", of: self, \.bias)
  }

  /// `x`: `[N, I, H, W]` → `[N, O, (H + 2p − k) / s + 1, (W + 2p − k) / s + 1]`.
  ///
  /// 3×3 stride-1 padding-1 convolutions on large enough inputs (`ConvolutionAlgorithm.preferred`) run through
  /// Winograd (F(4×4, 3×3), or F(6×6, 3×3) on AVX-512 for images large for their weights: `WinogradTile`) with
  /// the weights transformed per call or streamed through the products (≈1e-5 relative error against direct
  /// fp32; nothing cached, so replacing `weight` needs no invalidation); the rest through im2col + GEMM.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4, "Conv2D expects [N, C, H, W], got \(x.shape)")
    // A weight stored in fp16/bf16 is packed (or Winograd-transformed) straight from its bits, never widened whole.
    return conv2dPreferringWinograd(x, storedWeight: storedWeight, bias: bias, stride: stride, padding: padding)
  }

  /// `self(x) + residual` (`residual` of the output's shape, a residual connection's other branch), with the sum
  /// taken as the convolution writes its output where the algorithm allows (a per-call Winograd convolution), the
  /// same bits as adding it afterwards.
  func callAsFunction(_ x: Tensor, adding residual: Tensor) -> Tensor {
    precondition(x.rank == 4, "Conv2D expects [N, C, H, W], got \(x.shape)")
    return conv2dPreferringWinograd(
      x, storedWeight: storedWeight, bias: bias, stride: stride, padding: padding, adding: residual)
  }

  /// The convolution of `x`'s nearest 2× upsampling: `self(upsampleNearest2x(x))`, the same results, with the
  /// Winograd transforms reading `x` as upsampled so the 4× larger image is never stored (`Upsample2D`'s).
  /// `x`: `[N, I, H, W]`.
  func callAsFunction(upsampling x: Tensor) -> Tensor {
    precondition(x.rank == 4, "Conv2D expects [N, C, H, W], got \(x.shape)")
    return conv2dPreferringWinograd(
      x, storedWeight: storedWeight, bias: bias, stride: stride, padding: padding, upsamplingInput: true)
  }
}
