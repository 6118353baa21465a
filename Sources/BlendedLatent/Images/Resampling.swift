import Foundation
import TensorCore

/// A reconstruction filter for ``resampled(_:height:width:filter:sourceRegion:)``.
public enum ResamplingFilter: String, Sendable, Equatable, CaseIterable {
  /// Box (area average when downscaling), support 0.5.
  case box
  /// Triangle (bilinear), support 1.
  case bilinear
  /// Keys cubic with a = −0.5, support 2.
  case bicubic
  /// Lanczos windowed sinc with 3 lobes, support 3. The default: sharpest without visible ringing.
  case lanczos3

  /// The filter's half-width in source pixels at scale 1.
  public var support: Double {
    switch self {
    case .box: 0.5
    case .bilinear: 1
    case .bicubic: 2
    case .lanczos3: 3
    }
  }

  /// The filter's weight at distance `x` (in filter units).
  public func weight(_ x: Double) -> Double {
    switch self {
    case .box:
      return x > -0.5 && x <= 0.5 ? 1 : 0
    case .bilinear:
      let d = abs(x)
      return d < 1 ? 1 - d : 0
    case .bicubic:
      let a = -0.5
      let d = abs(x)
      if d < 1 { return ((a + 2) * d - (a + 3)) * d * d + 1 }
      if d < 2 { return (((d - 5) * d + 8) * d - 4) * a }
      return 0
    case .lanczos3:
      guard -3 <= x && x < 3 else { return 0 }
      return Self.sinc(x) * Self.sinc(x / 3)
    }
  }

  private static func sinc(_ x: Double) -> Double {
    if x == 0 { return 1 }
    let angle = x * Double.pi
    return sin(angle) / angle
  }
}

/// Resizes the last two axes with a separable convolution filter, antialiased when downscaling.
///
/// Matches PIL's `Image.resize(size, filter, box)` on float (`"F"`) images: output pixel `i` is centred at
/// source coordinate `in0 + (i + 0.5) · scale` with `scale = (in1 − in0) / out`; the filter is stretched
/// by `max(1, scale)` (so downscaling averages every source pixel it covers, no aliasing), clipped at the
/// image border, and its weights renormalised to sum to 1. Weights are computed in double precision;
/// the horizontal pass runs first and is stored as float, then the vertical pass.
/// Bicubic and Lanczos overshoot slightly near hard edges: clamp afterwards when a range matters.
///
/// - Parameters:
///   - x: `[..., H, W]`.
///   - height: output rows (> 0).
///   - width: output columns (> 0).
///   - filter: the reconstruction filter (default Lanczos-3).
///   - sourceRegion: the part of the input to resize (default: all of it). Pixels just outside it still
///     feed the filter, so a crop resized this way has no seam against its surroundings.
/// - Returns: `[..., height, width]`.
public func resampled(
  _ x: Tensor, height: Int, width: Int, filter: ResamplingFilter = .lanczos3,
  sourceRegion: PixelRegion? = nil
) -> Tensor {
  precondition(
    x.rank >= 2 && height > 0 && width > 0, "resampled: \(x.shape) to \(height)×\(width)")
  let (inHeight, inWidth) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
  let region = sourceRegion ?? PixelRegion(x: 0, y: 0, width: inWidth, height: inHeight)
  precondition(
    !region.isEmpty && PixelRegion(x: 0, y: 0, width: inWidth, height: inHeight).contains(region),
    "resampled: region \(region) outside \(inWidth)×\(inHeight)")
  let planes = x.count / max(1, inHeight * inWidth)
  if region.x == 0 && region.y == 0 && region.width == inWidth && region.height == inHeight
    && width == inWidth && height == inHeight
  {
    return x
  }
  let horizontal = ResamplingCoefficients(
    inputSize: inWidth, start: Double(region.x), end: Double(region.maxX), outputSize: width,
    filter: filter)
  let vertical = ResamplingCoefficients(
    inputSize: inHeight, start: Double(region.y), end: Double(region.maxY), outputSize: height,
    filter: filter)
  // Rows the vertical pass reads; the horizontal pass only needs those.
  let firstRow = vertical.bounds.map(\.start).min() ?? 0
  let lastRow = vertical.bounds.map { $0.start + $0.count }.max() ?? inHeight
  let rowCount = lastRow - firstRow

  return Tensor(shape: Array(x.shape.dropLast(2)) + [height, width]) { out in
    x.withUnsafeBufferPointer { input in
      var temporary = [Float](repeating: 0, count: rowCount * width)
      for p in 0..<planes {
        let source = input.baseAddress! + p * inHeight * inWidth
        for row in 0..<rowCount {
          let sourceRow = source + (firstRow + row) * inWidth
          for column in 0..<width {
            let (start, count) = horizontal.bounds[column]
            let weights = horizontal.weights[column]
            var sum = 0.0
            for k in 0..<count { sum += Double(sourceRow[start + k]) * weights[k] }
            temporary[row * width + column] = Float(sum)
          }
        }
        let target = out.baseAddress! + p * height * width
        for row in 0..<height {
          let (start, count) = vertical.bounds[row]
          let weights = vertical.weights[row]
          for column in 0..<width {
            var sum = 0.0
            for k in 0..<count {
              sum += Double(temporary[(start - firstRow + k) * width + column]) * weights[k]
            }
            target[row * width + column] = Float(sum)
          }
        }
      }
    }
  }
}

/// Per-output-pixel source span and normalised weights along one axis (PIL's `precompute_coeffs`).
struct ResamplingCoefficients {
  var bounds: [(start: Int, count: Int)]
  var weights: [[Double]]

  init(inputSize: Int, start: Double, end: Double, outputSize: Int, filter: ResamplingFilter) {
    let scale = (end - start) / Double(outputSize)
    let filterScale = max(1, scale)
    let support = filter.support * filterScale
    bounds = []
    weights = []
    bounds.reserveCapacity(outputSize)
    weights.reserveCapacity(outputSize)
    for i in 0..<outputSize {
      let center = start + (Double(i) + 0.5) * scale
      let low = max(0, Int(center - support + 0.5))
      let high = min(inputSize, Int(center + support + 0.5))
      var row = [Double]()
      row.reserveCapacity(max(0, high - low))
      var total = 0.0
      if high > low {
        for source in low..<high {
          let w = filter.weight((Double(source) - center + 0.5) / filterScale)
          row.append(w)
          total += w
        }
      }
      if total != 0 { row = row.map { $0 / total } }
      bounds.append((low, row.count))
      weights.append(row)
    }
  }
}
