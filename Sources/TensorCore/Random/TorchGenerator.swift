import Foundation

/// A seeded generator whose `randn` reproduces PyTorch's CPU `torch.randn` draw for draw.
///
/// `TorchGenerator(seed: s).randn(shape)` equals
/// `torch.randn(shape, generator=torch.Generator().manual_seed(s))` and later calls continue the
/// same stream, exactly as successive `torch.randn` calls on one generator do.
///
/// How torch draws (and so how this type draws), for float32 tensors:
/// - The engine is MT19937 seeded with the low 32 bits of the 64-bit seed.
/// - Tensors of 16 or more elements: one float uniform per element, `(u32 & 0xFFFFFF) · 2⁻²⁴`; then
///   Box–Muller over blocks of 16 (element `j` pairs with `j + 8`: `r = √(−2 log(1 − u_j))`,
///   `θ = 2π u_{j+8}`, outputs `r cos θ` and `r sin θ`). If the count is not a multiple of 16 the last
///   16 elements are recomputed from 16 fresh uniforms.
/// - Smaller tensors: the scalar double-precision Box–Muller of `at::normal_distribution<double>`,
///   with double uniforms from 64-bit draws; each pair's second value (`r sin θ`) is cached in the
///   generator and returned by the next scalar draw, even across intervening vectorised draws.
///
/// Matches: torch 2.x on x86-64 with AVX2 (the vectorised path evaluates `log` and `sincos` with the
/// Cephes polynomials of `avx_mathfun.h`, with the fused multiply-adds the compiler emits; reproduced
/// here bit for bit, verified against torch-produced fixtures).
/// Limitations: torch builds without AVX2 (e.g. ARM) use libm's `logf`/`cosf`/`sinf` in the
/// vectorised path, so their values can differ from these in the last bit; only float32 is produced.
public struct TorchGenerator: NoiseSource, Sendable {
  /// The seed this generator was created with (all 64 bits; torch keeps them, the engine uses the low 32).
  public let seed: UInt64
  private var engine: MersenneTwister
  private var cachedNormal: Double?

  /// Creates a generator in the state of `torch.Generator().manual_seed(seed)`.
  /// - Parameter seed: The seed; like torch, only its low 32 bits reach the engine.
  public init(seed: UInt64) {
    self.seed = seed
    engine = MersenneTwister(seed: UInt32(truncatingIfNeeded: seed))
    cachedNormal = nil
  }

  /// The next raw 32-bit output (torch's `random()`).
  public mutating func nextUInt32() -> UInt32 { engine.next() }

  /// The next 64-bit output (torch's `random64()`: two 32-bit outputs, the first in the high half).
  public mutating func nextUInt64() -> UInt64 {
    let high = UInt64(engine.next())
    let low = UInt64(engine.next())
    return high << 32 | low
  }

  /// Draws `torch.randn(shape)` from this generator.
  /// - Parameter shape: The tensor shape; the element count decides torch's code path (see the type).
  /// - Returns: A float32 tensor of `shape` with standard normal elements.
  public mutating func randn(_ shape: [Int]) -> Tensor {
    let count = shape.reduce(1, *)
    precondition(count >= 0, "randn: invalid shape \(shape)")
    if count >= 16 {
      return Tensor(shape: shape) { out in fillVectorised(out) }
    }
    return Tensor(shape: shape) { out in
      for i in 0..<count { out[i] = Float(nextScalarNormal()) }
    }
  }

  /// Draws `torch.randn(shape)`; the ``NoiseSource`` requirement.
  public mutating func normal(shape: [Int]) -> Tensor { randn(shape) }

  // MARK: - Scalar path (at::normal_distribution<double>)

  private mutating func nextUniformDouble() -> Double {
    Double(nextUInt64() & ((1 << 53) - 1)) * 0x1p-53
  }

  private mutating func nextScalarNormal() -> Double {
    if let cached = cachedNormal {
      cachedNormal = nil
      return cached
    }
    let u1 = nextUniformDouble()
    let u2 = nextUniformDouble()
    let radius = (-2.0 * log1p(-u2)).squareRoot()
    let theta = 2.0 * Double.pi * u1
    cachedNormal = radius * sin(theta)
    return radius * cos(theta)
  }

  // MARK: - Vectorised path (normal_fill with normal_fill_16_AVX2)

  private mutating func nextUniformFloat() -> Float {
    Float(engine.next() & 0xFF_FFFF) * 0x1p-24
  }

  private mutating func fillVectorised(_ out: UnsafeMutableBufferPointer<Float>) {
    let count = out.count
    for i in 0..<count { out[i] = nextUniformFloat() }
    var start = 0
    while start + 16 <= count {
      Self.boxMuller16(out, start: start)
      start += 16
    }
    if count % 16 != 0 {
      let tail = count - 16
      for i in 0..<16 { out[tail + i] = nextUniformFloat() }
      Self.boxMuller16(out, start: tail)
    }
  }

  private static func boxMuller16(_ data: UnsafeMutableBufferPointer<Float>, start: Int) {
    let twoPi = Float(2.0 * Double.pi)
    for j in 0..<8 {
      let u1 = 1 - data[start + j]
      let u2 = data[start + j + 8]
      let radius = (-2 * CephesFloat.log(u1)).squareRoot()
      let theta = twoPi * u2
      let (sine, cosine) = CephesFloat.sinCos(theta)
      data[start + j] = radius * cosine
      data[start + j + 8] = radius * sine
    }
  }
}
