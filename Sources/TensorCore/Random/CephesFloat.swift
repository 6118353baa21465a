/// Float32 `log` and `sincos` evaluated exactly as PyTorch's vectorised normal sampler does on x86-64.
///
/// These are the Cephes polynomials of `avx_mathfun.h` (Julien Pommier / Giovanni Garberoglio, zlib
/// licence), written out per element with the fused multiply-adds that the compiler emits for torch's
/// AVX2 kernel (determined by matching torch-produced values bit for bit). Only meant for arguments the
/// sampler produces: `log` for `(0, 1]`, `sinCos` for `[0, 2π)`.
enum CephesFloat {
  /// `fma(a, b, c)` = `a · b + c` with one rounding.
  @inline(__always) private static func fma(_ a: Float, _ b: Float, _ c: Float) -> Float {
    c.addingProduct(a, b)
  }

  /// Natural logarithm (`log256_ps`).
  static func log(_ input: Float) -> Float {
    if !(input > 0) { return .nan }
    let x0 = max(input, Float(bitPattern: 0x0080_0000))
    let bits = x0.bitPattern
    let exponent = Int32(bitPattern: bits >> 23) - 0x7F
    var x = Float(bitPattern: (bits & ~UInt32(0x7F80_0000)) | Float(0.5).bitPattern)
    var e = Float(exponent) + 1
    let belowSqrtHalf = x < Float(0.707106781186547524)
    let tmp: Float = belowSqrtHalf ? x : 0
    x = x - 1
    e = e - (belowSqrtHalf ? 1 : 0)
    x = x + tmp
    let z = x * x
    var y = Float(7.0376836292E-2)
    y = fma(y, x, Float(-1.1514610310E-1))
    y = fma(y, x, Float(1.1676998740E-1))
    y = fma(y, x, Float(-1.2420140846E-1))
    y = fma(y, x, Float(1.4249322787E-1))
    y = fma(y, x, Float(-1.6668057665E-1))
    y = fma(y, x, Float(2.0000714765E-1))
    y = fma(y, x, Float(-2.4999993993E-1))
    y = fma(y, x, Float(3.3333331174E-1))
    y = y * x
    y = fma(y, z, e * Float(-2.12194440e-4))
    y = fma(-z, 0.5, y)
    x = x + y
    x = fma(e, Float(0.693359375), x)
    return x
  }

  /// Sine and cosine together (`sincos256_ps`).
  static func sinCos(_ input: Float) -> (sin: Float, cos: Float) {
    var signSine = input.bitPattern & 0x8000_0000
    var x = Float(bitPattern: input.bitPattern & 0x7FFF_FFFF)
    var y = x * Float(1.27323954473516)  // 4 / π
    var j = Int32(y)  // truncation, as cvttps
    j = (j &+ 1) & ~1
    y = Float(j)
    let swapSignSine = UInt32(bitPattern: (j & 4) << 29)
    let usesCosinePolynomialForCosine = (j & 2) == 0
    x = fma(y, Float(-0.78515625), x)
    x = fma(y, Float(-2.4187564849853515625e-4), x)
    x = fma(y, Float(-3.77489497744594108e-8), x)
    let signCosine = UInt32(bitPattern: (~(j &- 2) & 4) << 29)
    signSine ^= swapSignSine
    let z = x * x
    var c = fma(Float(2.443315711809948E-005), z, Float(-1.388731625493765E-003))
    c = fma(c, z, Float(4.166664568298827E-002))
    c = c * z
    c = fma(c, z, -(z * 0.5))
    c = c + 1
    var s = fma(Float(-1.9515295891E-4), z, Float(8.3321608736E-3))
    s = fma(s, z, Float(-1.6666654611E-1))
    s = s * z
    s = fma(s, x, x)
    let sine = usesCosinePolynomialForCosine ? s : c
    let cosine = usesCosinePolynomialForCosine ? c : s
    return (Float(bitPattern: sine.bitPattern ^ signSine), Float(bitPattern: cosine.bitPattern ^ signCosine))
  }
}
