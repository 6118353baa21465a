import TensorCore

/// Blend weights for pasting an edit through a mask with a soft inner edge.
///
/// Selected pixels (mask > 0.5) get `min(1, d / (radius + 1))`, where `d` is their chamfer distance
/// (1 for edge neighbours, √2 for diagonals) to the nearest unselected pixel; unselected pixels get 0,
/// so the feather only ever reaches *into* the mask and the outside stays exactly the original. Image
/// borders do not count as unselected. With `radius` 0 the result is the binary mask.
/// - Parameters:
///   - mask: `[H, W]` in [0, 1].
///   - radius: feather width in pixels (≥ 0).
/// - Returns: `[H, W]` weights in [0, 1].
public func featheredMask(_ mask: Tensor, radius: Int) -> Tensor {
  precondition(
    mask.rank == 2 && radius >= 0,
    "featheredMask: [H, W] mask and radius ≥ 0, got \(mask.shape), \(radius)")
  let (height, width) = (mask.shape[0], mask.shape[1])
  let selected = mask.scalars.map { $0 > 0.5 }
  if radius == 0 { return Tensor(shape: mask.shape, scalars: selected.map { $0 ? 1 : 0 }) }
  let far = Float(radius + 2)  // anything ≥ radius + 1 saturates; no need for exact large distances
  var distance = selected.map { $0 ? far : 0 }
  let diagonal = Float(2).squareRoot()
  // Forward pass: up-left, up, up-right, left.
  for row in 0..<height {
    for column in 0..<width where selected[row * width + column] {
      var d = distance[row * width + column]
      if column > 0 { d = min(d, distance[row * width + column - 1] + 1) }
      if row > 0 {
        let above = (row - 1) * width
        d = min(d, distance[above + column] + 1)
        if column > 0 { d = min(d, distance[above + column - 1] + diagonal) }
        if column + 1 < width { d = min(d, distance[above + column + 1] + diagonal) }
      }
      distance[row * width + column] = d
    }
  }
  // Backward pass: down-right, down, down-left, right.
  for row in stride(from: height - 1, through: 0, by: -1) {
    for column in stride(from: width - 1, through: 0, by: -1) where selected[row * width + column] {
      var d = distance[row * width + column]
      if column + 1 < width { d = min(d, distance[row * width + column + 1] + 1) }
      if row + 1 < height {
        let below = (row + 1) * width
        d = min(d, distance[below + column] + 1)
        if column + 1 < width { d = min(d, distance[below + column + 1] + diagonal) }
        if column > 0 { d = min(d, distance[below + column - 1] + diagonal) }
      }
      distance[row * width + column] = d
    }
  }
  let scale = 1 / Float(radius + 1)
  return Tensor(shape: mask.shape, scalars: distance.map { min(1, $0 * scale) })
}
