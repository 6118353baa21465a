import TensorCore

/// How far an actual tensor is from an expected one: the single comparison every parity test reports.
///
/// Plain values, no `Testing` import: tests `#expect` on `isClose` and print `description` on failure.
public struct TensorComparison: CustomStringConvertible, Sendable {
  /// Whether the two shapes are identical.
  public let shapesMatch: Bool
  /// The largest `|actual − expected|`.
  public let maxAbsoluteError: Double
  /// The largest absolute error divided by the largest `|expected|` (relative to the tensor's scale).
  public let relativeError: Double
  /// `Σ(actual − expected)² / Σ expected²` (ggml's NMSE).
  public let normalizedMSE: Double
  /// The flat index of the largest absolute error.
  public let worstIndex: Int
  /// The pair of values at `worstIndex`.
  public let worstPair: (actual: Float, expected: Float)

  /// Compares `actual` against `expected` in one pass.
  public init(_ actual: Tensor, _ expected: Tensor) {
    shapesMatch = actual.shape == expected.shape && actual.count == expected.count
    var maxError = 0.0
    var scale = 0.0
    var squaredError = 0.0
    var squaredExpected = 0.0
    var worst = 0
    let count = min(actual.count, expected.count)
    for i in 0..<count {
      let a = Double(actual.scalars[i])
      let e = Double(expected.scalars[i])
      let error = a.isNaN || e.isNaN ? Double.infinity : abs(a - e)
      if error > maxError || (i == 0 && error.isNaN) {
        maxError = error
        worst = i
      }
      scale = max(scale, abs(e))
      squaredError += (a - e) * (a - e)
      squaredExpected += e * e
    }
    maxAbsoluteError = maxError
    relativeError = scale > 0 ? maxError / scale : maxError
    normalizedMSE = squaredExpected > 0 ? squaredError / squaredExpected : squaredError
    worstIndex = worst
    worstPair = count > 0 ? (actual.scalars[worst], expected.scalars[worst]) : (0, 0)
  }

  /// Whether the shapes match and the error relative to the expected tensor's largest magnitude is at most
  /// `relative` (the "relative error" of the parity ledger).
  public func isClose(relative: Double) -> Bool { shapesMatch && relativeError <= relative }

  /// A one-line summary that names where the tensors differ most.
  public var description: String {
    "shapes match: \(shapesMatch), max |Δ| \(maxAbsoluteError) at \(worstIndex) "
      + "(actual \(worstPair.actual), expected \(worstPair.expected)), relative \(relativeError), NMSE \(normalizedMSE)"
  }
}
