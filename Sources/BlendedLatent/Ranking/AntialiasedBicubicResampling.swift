import TensorCore

// NOTE for the merge: branch `cli` adds `Sources/BlendedLatent/Images/Resampling.swift` with the same PIL
// algorithm (`resampled(_:height:width:filter:sourceRegion:)`). Once both are on main, the body of
// `antialiasedBicubicResized` can become `resampled(x, height: height, width: width, filter: .bicubic)` and
// this file can go; `RankingTests` checks the result against torch either way.

/// Resizes the last two axes with the antialiased bicubic filter of PIL's `Image.resize(…, BICUBIC)`, which
/// is also torch's `F.interpolate(mode="bicubic", antialias=True, align_corners=False)`.
///
/// Output pixel `i` is centred at source coordinate `(i + 0.5) · scale` with `scale = in / out`; the Keys
/// cubic (a = −0.5, support 2) is stretched by `max(1, scale)` (downscaling averages every source pixel it
/// covers), clipped at the border and its weights renormalised to sum to 1. The horizontal pass runs first
/// (stored as float), then the vertical pass; weights and sums are in double precision.
///
/// - Parameters:
///   - x: `[..., H, W]`.
///   - height: output rows (> 0).
///   - width: output columns (> 0).
/// - Returns: `[..., height, width]` (`x` itself when the size is unchanged).
func antialiasedBicubicResized(_ x: Tensor, height: Int, width: Int) -> Tensor {
  precondition(
    x.rank >= 2 && height > 0 && width > 0,
    "antialiasedBicubicResized: \(x.shape) to \(height)×\(width)")
  let (inHeight, inWidth) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
  if inHeight == height && inWidth == width { return x }
  let planes = x.count / max(1, inHeight * inWidth)
  let horizontal = BicubicCoefficients(inputSize: inWidth, outputSize: width)
  let vertical = BicubicCoefficients(inputSize: inHeight, outputSize: height)
  return Tensor(shape: Array(x.shape.dropLast(2)) + [height, width]) { out in
    x.withUnsafeBufferPointer { input in
      var rows = [Float](repeating: 0, count: inHeight * width)
      for plane in 0..<planes {
        let source = input.baseAddress! + plane * inHeight * inWidth
        for row in 0..<inHeight {
          for column in 0..<width {
            let (start, weights) = (horizontal.starts[column], horizontal.weights[column])
            var sum = 0.0
            for (k, weight) in weights.enumerated() {
              sum += Double(source[row * inWidth + start + k]) * weight
            }
            rows[row * width + column] = Float(sum)
          }
        }
        let target = out.baseAddress! + plane * height * width
        for row in 0..<height {
          let (start, weights) = (vertical.starts[row], vertical.weights[row])
          for column in 0..<width {
            var sum = 0.0
            for (k, weight) in weights.enumerated() {
              sum += Double(rows[(start + k) * width + column]) * weight
            }
            target[row * width + column] = Float(sum)
          }
        }
      }
    }
  }
}

/// Per output pixel along one axis: the first source index and the normalised weights (PIL's
/// `precompute_coeffs` for the bicubic filter).
struct BicubicCoefficients {
  var starts: [Int] = []
  var weights: [[Double]] = []

  init(inputSize: Int, outputSize: Int) {
    let scale = Double(inputSize) / Double(outputSize)
    let filterScale = max(1, scale)
    let support = 2 * filterScale
    for i in 0..<outputSize {
      let center = (Double(i) + 0.5) * scale
      let low = max(0, Int(center - support + 0.5))
      let high = min(inputSize, Int(center + support + 0.5))
      var row = (low..<max(low, high)).map {
        Self.cubic((Double($0) - center + 0.5) / filterScale)
      }
      let total = row.reduce(0, +)
      if total != 0 { row = row.map { $0 / total } }
      starts.append(low)
      weights.append(row)
    }
  }

  /// Keys' cubic convolution kernel with a = −0.5.
  static func cubic(_ x: Double) -> Double {
    let a = -0.5
    let d = abs(x)
    if d < 1 { return ((a + 2) * d - (a + 3)) * d * d + 1 }
    if d < 2 { return (((d - 5) * d + 8) * d - 4) * a }
    return 0
  }
}
