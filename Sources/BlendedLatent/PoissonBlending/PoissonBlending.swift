import TensorCore

/// The outcome of `PoissonBlending.blended`.
public struct PoissonBlendingResult: Sendable {
  /// The blended image, `[N, C, H, W]`: the target outside the mask, the Poisson solution inside.
  public let image: Tensor
  /// Conjugate-gradient iterations per (sample, channel), sample-major.
  public let iterations: [Int]
  /// Final `‖b − A f‖ / ‖b‖` per (sample, channel), sample-major (0 when the region is empty).
  public let relativeResiduals: [Double]
}

/// Gradient-domain (Poisson) blending of an edited region into the original image (Pérez et al. 2003), one of the
/// background-reconstruction options the paper compares (`Documentation/Method.md`, "Background reconstruction").
///
/// For each sample and channel, the pixels Ω where the mask exceeds 0.5 are the unknowns `f`; for `p ∈ Ω` with
/// in-image 4-neighbours `N_p`: `|N_p| f_p − Σ_{q ∈ N_p ∩ Ω} f_q = Σ_{q ∈ N_p \ Ω} t_q + Σ_{q ∈ N_p} (s_p − s_q)`,
/// where `s` is the source (edited image) and `t` the target (original). So the result keeps the source's gradients
/// inside Ω and meets the target on Ω's boundary (Dirichlet); at the image border the missing neighbours are simply
/// left out (Neumann). The sparse symmetric positive (semi-)definite system is solved matrix-free by conjugate
/// gradients in double precision, starting from the source, to a relative residual of `tolerance`. A region with
/// no Dirichlet boundary (e.g. the whole image) is singular up to a constant; CG from the source keeps the source's
/// mean there.
public struct PoissonBlending: Sendable, Equatable {
  /// The relative residual `‖b − A f‖ / ‖b‖` at which the solve stops.
  public var tolerance: Double
  /// The iteration limit per channel; reaching it above `tolerance` throws.
  public var maximumIterations: Int

  /// Creates a solver configuration.
  public init(tolerance: Double = 1e-6, maximumIterations: Int = 20_000) {
    self.tolerance = tolerance
    self.maximumIterations = maximumIterations
  }

  /// Blends `source` into `target` inside `mask`.
  ///
  /// - Parameters:
  ///   - source: the edited image `x̂`, `[N, C, H, W]`.
  ///   - target: the original image `x`, same shape.
  ///   - mask: `[N, 1, H, W]`; pixels above 0.5 are blended.
  /// - Throws: `PoissonBlendingError` for bad shapes or options, or a solve that does not converge.
  public func blended(source: Tensor, target: Tensor, mask: Tensor) throws(PoissonBlendingError)
    -> PoissonBlendingResult
  {
    guard source.rank == 4 else {
      throw .inputShapeMismatch(name: "source", expected: "[N, C, H, W]", actual: source.shape)
    }
    guard target.shape == source.shape else {
      throw .inputShapeMismatch(name: "target", expected: "\(source.shape)", actual: target.shape)
    }
    let (batch, channels, height, width) = (source.shape[0], source.shape[1], source.shape[2], source.shape[3])
    guard mask.shape == [batch, 1, height, width] else {
      throw .inputShapeMismatch(name: "mask", expected: "[\(batch), 1, \(height), \(width)]", actual: mask.shape)
    }
    guard tolerance > 0, tolerance.isFinite else { throw .invalidOption(name: "tolerance", value: "\(tolerance)") }
    guard maximumIterations > 0 else { throw .invalidOption(name: "maximumIterations", value: "\(maximumIterations)") }

    let plane = height * width
    var image = target
    var iterations: [Int] = []
    var residuals: [Double] = []
    for n in 0..<batch {
      let region = Region(mask: mask, sample: n, height: height, width: width)
      for c in 0..<channels {
        let offset = (n * channels + c) * plane
        let s = Array(source.scalars[offset..<(offset + plane)]).map(Double.init)
        let t = Array(target.scalars[offset..<(offset + plane)]).map(Double.init)
        let solution = region.solve(source: s, target: t, tolerance: tolerance, maximumIterations: maximumIterations)
        guard solution.relativeResidual <= tolerance else {
          throw .notConverged(
            sample: n, channel: c, iterations: solution.iterations,
            relativeResidual: solution.relativeResidual)
        }
        image.withUnsafeMutableBufferPointer { out in
          for (index, pixel) in region.pixels.enumerated() { out[offset + pixel] = Float(solution.values[index]) }
        }
        iterations.append(solution.iterations)
        residuals.append(solution.relativeResidual)
      }
    }
    return PoissonBlendingResult(image: image, iterations: iterations, relativeResiduals: residuals)
  }
}

/// The unknown pixels of one sample and their 4-neighbourhoods.
struct Region {
  /// Flat indices (row · width + column) of the pixels in Ω, row-major.
  var pixels: [Int] = []
  /// For each unknown, its in-image neighbours: an unknown's index (≥ 0) or `−1 − flat index` of a boundary pixel.
  var neighbours: [[Int]] = []

  init(mask: Tensor, sample: Int, height: Int, width: Int) {
    let plane = height * width
    var unknownIndex = [Int](repeating: -1, count: plane)
    mask.withUnsafeBufferPointer { m in
      for pixel in 0..<plane where m[sample * plane + pixel] > 0.5 {
        unknownIndex[pixel] = pixels.count
        pixels.append(pixel)
      }
    }
    neighbours = pixels.map { pixel in
      let (row, column) = (pixel / width, pixel % width)
      var result: [Int] = []
      for (dr, dc) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
        let (r, c) = (row + dr, column + dc)
        guard r >= 0, r < height, c >= 0, c < width else { continue }
        let q = r * width + c
        result.append(unknownIndex[q] >= 0 ? unknownIndex[q] : -1 - q)
      }
      return result
    }
  }

  /// `A f` for the unknowns: `|N_p| f_p − Σ_{unknown q} f_q`.
  func apply(_ f: [Double], into result: inout [Double]) {
    for index in 0..<pixels.count {
      var value = Double(neighbours[index].count) * f[index]
      for q in neighbours[index] where q >= 0 { value -= f[q] }
      result[index] = value
    }
  }

  /// Conjugate gradients on `A f = b`, starting from the source values.
  func solve(source s: [Double], target t: [Double], tolerance: Double, maximumIterations: Int)
    -> (values: [Double], iterations: Int, relativeResidual: Double)
  {
    let count = pixels.count
    guard count > 0 else { return ([], 0, 0) }
    var b = [Double](repeating: 0, count: count)
    for index in 0..<count {
      let p = pixels[index]
      var value = 0.0
      for q in neighbours[index] {
        let flat = q >= 0 ? pixels[q] : -1 - q
        value += s[p] - s[flat]  // guidance: the source's gradient
        if q < 0 { value += t[flat] }  // Dirichlet boundary from the target
      }
      b[index] = value
    }
    let bNorm = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
    var f = pixels.map { s[$0] }
    var product = [Double](repeating: 0, count: count)
    apply(f, into: &product)
    var r = zip(b, product).map { $0 - $1 }
    var rr = r.reduce(0) { $0 + $1 * $1 }
    let scale = bNorm > 0 ? bNorm : 1
    var direction = r
    var iteration = 0
    while rr.squareRoot() / scale > tolerance && iteration < maximumIterations {
      apply(direction, into: &product)
      let curvature = zip(direction, product).reduce(0) { $0 + $1.0 * $1.1 }
      guard curvature > 0 else { break }  // a null direction of a singular region: nothing left to reduce
      let alpha = rr / curvature
      for i in 0..<count {
        f[i] += alpha * direction[i]
        r[i] -= alpha * product[i]
      }
      let next = r.reduce(0) { $0 + $1 * $1 }
      let beta = next / rr
      rr = next
      for i in 0..<count { direction[i] = r[i] + beta * direction[i] }
      iteration += 1
    }
    // Report the true residual, not the recursively updated one.
    apply(f, into: &product)
    let residual = zip(b, product).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot() / scale
    return (f, iteration, residual)
  }
}
