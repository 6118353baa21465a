import Foundation
import TensorCore

extension Layer {
  /// Fills every parameter with deterministic pseudo-random values, for demos and tests without a checkpoint.
  ///
  /// Rank-1 parameters named `weight` (norm scales) become 1 and every `bias` becomes 0. Every other tensor is
  /// drawn from a normal distribution with standard deviation `1 / √fan_in` (`fan_in` = the product of all
  /// extents but the first), which keeps activations of any depth in a sane range. The generator is
  /// SplitMix64 with a Box–Muller transform, seeded with `seed` and consumed in registration order, so the
  /// same seed and configuration always give the same weights.
  /// - Parameter seed: the generator seed.
  public func initializeParametersRandomly(seed: UInt64) {
    var generator = SplitMix64(seed: seed)
    for entry in parameterEntries {
      let shape = entry.shape
      if entry.key.hasSuffix("bias") {
        entry.set(Tensor(shape: shape))
      } else if shape.count == 1 {
        entry.set(Tensor(shape: shape, repeating: 1))
      } else {
        let fanIn = max(1, shape.dropFirst().reduce(1, *))
        let deviation = 1 / Double(fanIn).squareRoot()
        entry.set(
          Tensor(shape: shape) { out in
            for i in 0..<out.count { out[i] = Float(generator.nextNormal() * deviation) }
          })
      }
    }
  }
}

/// SplitMix64 (Steele, Lea & Flood 2014) with Box–Muller normals: small, fast and reproducible everywhere.
struct SplitMix64 {
  private var state: UInt64
  private var spare: Double?

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A uniform value in (0, 1).
  mutating func nextUniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }

  /// A standard normal value.
  mutating func nextNormal() -> Double {
    if let spare {
      self.spare = nil
      return spare
    }
    let radius = (-2 * log(nextUniform())).squareRoot()
    let angle = 2 * Double.pi * nextUniform()
    spare = radius * sin(angle)
    return radius * cos(angle)
  }
}
