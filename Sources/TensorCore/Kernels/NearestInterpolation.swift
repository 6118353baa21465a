/// Nearest-neighbour resize of the last two axes with PyTorch's rule for
/// `F.interpolate(x, size=(height, width), mode="nearest")`: output index `i` reads source index
/// `min(⌊i · (in / out)⌋, in − 1)` with the scale and product in float32 (exact doubling is `i / 2`).
///
/// `x`: `[..., H, W]` → `[..., height, width]`. Used by the UNet's up-samplers when the latent size is not a
/// multiple of `2^(blocks − 1)` (diffusers' `forward_upsample_size`); not a hot path.
public func interpolatedNearest(_ x: Tensor, height: Int, width: Int) -> Tensor {
  precondition(
    x.rank >= 2 && height > 0 && width > 0, "interpolatedNearest: \(x.shape) to \(height)×\(width)")
  let (inHeight, inWidth) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
  func sourceIndices(input: Int, output: Int) -> [Int] {
    if input == output { return Array(0..<output) }
    if output == 2 * input { return (0..<output).map { $0 / 2 } }
    let scale = Float(input) / Float(output)
    return (0..<output).map { min(Int((Float($0) * scale).rounded(.down)), input - 1) }
  }
  let rows = sourceIndices(input: inHeight, output: height)
  let columns = sourceIndices(input: inWidth, output: width)
  let planes = x.count / max(1, inHeight * inWidth)
  return Tensor(shape: Array(x.shape.dropLast(2)) + [height, width]) { out in
    x.withUnsafeBufferPointer { input in
      for plane in 0..<planes {
        for (i, row) in rows.enumerated() {
          let source = (plane * inHeight + row) * inWidth
          let destination = (plane * height + i) * width
          for (j, column) in columns.enumerated() { out[destination + j] = input[source + column] }
        }
      }
    }
  }
}
