import BlendedLatent
import Foundation
import TensorCore
import Testing
import _TestSupport

@Suite("Poisson blending")
struct PoissonBlendingTests {
  /// A smooth-plus-texture test image `[1, 3, H, W]`.
  static func image(height: Int, width: Int, phase: Float) -> Tensor {
    var t = Tensor(shape: [1, 3, height, width], repeating: 0)
    for c in 0..<3 {
      for i in 0..<height {
        for j in 0..<width {
          t[0, c, i, j] = sin(Float(i) * 0.4 + phase * Float(c + 1)) * cos(Float(j) * 0.3 - phase) + 0.1 * Float(c)
        }
      }
    }
    return t
  }

  static func rectangleMask(height: Int, width: Int, rows: Range<Int>, columns: Range<Int>) -> Tensor {
    var m = Tensor(shape: [1, 1, height, width], repeating: 0)
    for i in rows { for j in columns { m[0, 0, i, j] = 1 } }
    return m
  }

  @Test func reproducesTheTargetWhenSourceEqualsTarget() throws {
    let target = Self.image(height: 20, width: 24, phase: 0.3)
    let mask = Self.rectangleMask(height: 20, width: 24, rows: 3..<15, columns: 5..<20)
    let result = try PoissonBlending(tolerance: 1e-10).blended(source: target, target: target, mask: mask)
    let comparison = TensorComparison(result.image, target)
    #expect(comparison.maxAbsoluteError < 1e-5, "\(comparison)")
  }

  @Test func keepsTheTargetOutsideAndMeetsItAtTheBoundary() throws {
    let (height, width) = (18, 22)
    let target = Self.image(height: height, width: width, phase: 0.1)
    let source = Self.image(height: height, width: width, phase: 1.7) + 0.8  // a shifted, different image
    let mask = Self.rectangleMask(height: height, width: width, rows: 4..<13, columns: 6..<17)
    let result = try PoissonBlending(tolerance: 1e-10).blended(source: source, target: target, mask: mask)
    for c in 0..<3 {
      for i in 0..<height {
        for j in 0..<width where mask[0, 0, i, j] < 0.5 {
          #expect(result.image[0, c, i, j] == target[0, c, i, j])
        }
      }
    }
    // Inside, the discrete Poisson equation holds with the source's Laplacian and target boundary values.
    var worst: Float = 0
    for c in 0..<3 {
      for i in 4..<13 {
        for j in 6..<17 {
          let f = { (r: Int, k: Int) in result.image[0, c, r, k] }
          let s = { (r: Int, k: Int) in source[0, c, r, k] }
          let lhs = 4 * f(i, j) - f(i - 1, j) - f(i + 1, j) - f(i, j - 1) - f(i, j + 1)
          let rhs = 4 * s(i, j) - s(i - 1, j) - s(i + 1, j) - s(i, j - 1) - s(i, j + 1)
          worst = max(worst, abs(lhs - rhs))
        }
      }
    }
    #expect(worst < 1e-4, "discrete Poisson equation residual \(worst)")
    // The source's 0.8 offset is removed: the blended region takes the target's level at the boundary.
    let meanDifference = (0..<3).map { c in
      (4..<13).flatMap { i in (6..<17).map { j in result.image[0, c, i, j] - source[0, c, i, j] } }.reduce(0, +) / 99
    }
    #expect(meanDifference.allSatisfy { $0 < -0.4 }, "mean shift \(meanDifference)")
  }

  @Test func imageBorderIsNeumannAndWholeImageKeepsTheSource() throws {
    // A region touching the image border: still solvable (Dirichlet on its inner side only).
    let target = Self.image(height: 12, width: 12, phase: 0.5)
    let source = Self.image(height: 12, width: 12, phase: 2.0)
    let corner = Self.rectangleMask(height: 12, width: 12, rows: 0..<6, columns: 0..<7)
    let cornerResult = try PoissonBlending(tolerance: 1e-9).blended(source: source, target: target, mask: corner)
    #expect(cornerResult.relativeResiduals.allSatisfy { $0 <= 1e-9 })
    // The whole image masked: no Dirichlet boundary, the gradients are the source's and CG keeps its mean.
    let everything = Tensor(shape: [1, 1, 12, 12], repeating: 1)
    let whole = try PoissonBlending().blended(source: source, target: target, mask: everything)
    #expect(TensorComparison(whole.image, source).maxAbsoluteError < 1e-5)
  }

  @Test func reportsConvergenceAndFailsLoudly() throws {
    let target = Self.image(height: 40, width: 40, phase: 0.2)
    let source = Self.image(height: 40, width: 40, phase: 1.1)
    let mask = Self.rectangleMask(height: 40, width: 40, rows: 5..<35, columns: 5..<35)
    let result = try PoissonBlending(tolerance: 1e-8).blended(source: source, target: target, mask: mask)
    #expect(result.iterations.count == 3)
    #expect(result.relativeResiduals.allSatisfy { $0 <= 1e-8 })
    #expect(result.iterations.allSatisfy { $0 > 1 && $0 < 900 })
    #expect(throws: PoissonBlendingError.self) {
      try PoissonBlending(tolerance: 1e-12, maximumIterations: 3).blended(source: source, target: target, mask: mask)
    }
    #expect(
      throws: PoissonBlendingError.inputShapeMismatch(name: "mask", expected: "[1, 1, 40, 40]", actual: [1, 3, 40, 40])
    ) {
      try PoissonBlending().blended(source: source, target: target, mask: Tensor(shape: [1, 3, 40, 40], repeating: 1))
    }
  }
}
