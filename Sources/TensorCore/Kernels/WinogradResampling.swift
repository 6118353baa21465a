/// How a Winograd convolution's tensors relate to the image it convolves: as given, or through a nearest 2×
/// upsampling that the transforms apply as they read or write, so the 4× larger tensor is never stored.
package enum WinogradResampling: Sendable, Equatable {
  /// The input is the image and the output is its convolution.
  case none
  /// The image is the nearest 2× upsampling of the input: `[N, C, H, W]` is convolved as `[N, C, 2H, 2W]` (each
  /// element read as the 2×2 block it becomes, diffusers' `Upsample2D` before its convolution) and the output is
  /// `[N, O, 2H, 2W]`; the same results as convolving `upsampleNearest2x(input)`, bit for bit.
  case upsampledInput
  /// Each 2×2 block of the output is summed into one element as the output transform writes it: an image of
  /// `[N, C, H, W]` (H and W even) gives `[N, O, H / 2, W / 2]`, `upsampleNearest2xBackward` of the output bit for
  /// bit (the adjoint of `upsampledInput`: the input gradient of an upsampler's convolution).
  case summedOutput

  /// The height and width of the convolved image for an input of `height × width`.
  func imageSize(inputHeight height: Int, inputWidth width: Int) -> (height: Int, width: Int) {
    self == .upsampledInput ? (2 * height, 2 * width) : (height, width)
  }

  /// The shape of the output for a convolved image of `[batch, _, height, width]` and `outputs` channels.
  func outputShape(batch: Int, outputs: Int, height: Int, width: Int) -> [Int] {
    self == .summedOutput ? [batch, outputs, height / 2, width / 2] : [batch, outputs, height, width]
  }
}
