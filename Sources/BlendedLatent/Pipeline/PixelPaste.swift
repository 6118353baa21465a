import TensorCore

/// Pixel paste background handling (paper §4.2, "pixel paste"), with an optional inward feather.
public enum PixelPaste {
  /// The per-pixel weight of the edited image: 0 outside the mask (< 0.5), inside `min(1, d / (r + 1))` with d the
  /// Euclidean distance to the nearest unmasked pixel (1 everywhere inside when r = 0).
  /// - Parameters:
  ///   - mask: `[H, W]` in [0, 1].
  ///   - featherRadius: r ≥ 0, in pixels.
  /// - Returns: `[H, W]` weights in [0, 1].
  public static func weights(mask: Tensor, featherRadius: Int) -> Tensor {
    precondition(
      mask.rank == 2 && featherRadius >= 0, "PixelPaste.weights: mask \(mask.shape), radius \(featherRadius)")
    let (height, width) = (mask.shape[0], mask.shape[1])
    let binary = mask.map { $0 >= 0.5 ? 1 : 0 }
    guard featherRadius > 0 else { return binary }
    let reach = featherRadius + 1
    return Tensor(shape: [height, width]) { out in
      binary.withUnsafeBufferPointer { m in
        for i in 0..<height {
          for j in 0..<width {
            guard m[i * width + j] > 0 else {
              out[i * width + j] = 0
              continue
            }
            var nearestSquared = reach * reach
            for di in -reach...reach where i + di >= 0 && i + di < height {
              for dj in -reach...reach where j + dj >= 0 && j + dj < width && m[(i + di) * width + j + dj] == 0 {
                nearestSquared = min(nearestSquared, di * di + dj * dj)
              }
            }
            out[i * width + j] = min(1, Float(Double(nearestSquared).squareRoot()) / Float(reach))
          }
        }
      }
    }
  }

  /// `edited ⊙ w + original ⊙ (1 − w)` per channel.
  /// - Parameters:
  ///   - edited: `[3, H, W]`.
  ///   - original: `[3, H, W]`.
  ///   - weights: `[H, W]` from ``weights(mask:featherRadius:)``.
  /// - Returns: `[3, H, W]`; where the weight is 0 the original pixel exactly.
  public static func composite(edited: Tensor, original: Tensor, weights: Tensor) -> Tensor {
    precondition(edited.shape == original.shape && edited.rank == 3, "PixelPaste: \(edited.shape) vs \(original.shape)")
    precondition(Array(edited.shape.suffix(2)) == weights.shape, "PixelPaste: weights \(weights.shape)")
    let plane = weights.count
    return Tensor(shape: edited.shape) { out in
      edited.withUnsafeBufferPointer { e in
        original.withUnsafeBufferPointer { o in
          weights.withUnsafeBufferPointer { w in
            for index in 0..<out.count {
              let weight = w[index % plane]
              out[index] =
                weight == 0 ? o[index] : (weight == 1 ? e[index] : weight * e[index] + (1 - weight) * o[index])
            }
          }
        }
      }
    }
  }
}
