/// The 32-bit Mersenne Twister (MT19937), as `std::mt19937` and PyTorch's `at::mt19937`.
///
/// Seeding uses the standard linear initialisation from a 32-bit seed; PyTorch's CPU generator passes
/// the low 32 bits of its 64-bit seed.
struct MersenneTwister: Sendable {
  private var state: [UInt32]
  private var index: Int

  init(seed: UInt32) {
    var state = [UInt32](repeating: 0, count: 624)
    state[0] = seed
    for i in 1..<624 {
      let previous = state[i - 1]
      state[i] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(i)
    }
    self.state = state
    index = 624
  }

  /// The next 32-bit output.
  mutating func next() -> UInt32 {
    if index >= 624 { twist() }
    var y = state[index]
    index += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C_5680
    y ^= (y << 15) & 0xEFC6_0000
    y ^= y >> 18
    return y
  }

  private mutating func twist() {
    state.withUnsafeMutableBufferPointer { mt in
      for i in 0..<624 {
        let y = (mt[i] & 0x8000_0000) | (mt[(i + 1) % 624] & 0x7FFF_FFFF)
        var value = mt[(i + 397) % 624] ^ (y >> 1)
        if y & 1 != 0 { value ^= 0x9908_B0DF }
        mt[i] = value
      }
    }
    index = 0
  }
}
