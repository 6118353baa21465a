/// A low-rank change to a weight, `scale · up · down`, kept as its two small factors (a LoRA module).
///
/// A weight `W` of shape `[O, I, …]` (a linear layer's `[O, I]` or a convolution's `[O, I, k, k]`) read
/// through ``StoredTensor`` with this update attached becomes `W + scale · (up · down)` reshaped to `W`'s shape,
/// where `up` is `[O, r]` and `down` is `[r, I·…]` (the kernel axes flattened into the columns). Only the factors
/// stay in memory: `r · (O + I·…)` floats instead of `O · I · …`.
///
/// Matches: PEFT `LoraLayer.get_delta_weight` for `nn.Linear` and for `nn.Conv2d` whose `lora_B` is 1×1
/// (`lora_B · lora_A · scaling`, with `scaling` already folded into ``scale``).
public struct LowRankUpdate: Sendable, Equatable {
  /// `[O, r]`: the up projection (PEFT `lora_B`, kohya `lora_up`).
  public let up: Tensor
  /// `[r, I·…]`: the down projection (PEFT `lora_A`, kohya `lora_down`), kernel axes flattened.
  public let down: Tensor
  /// The factor multiplying `up · down` (a LoRA's user scale × alpha / rank).
  public let scale: Float

  /// Creates an update from its factors.
  /// - Parameters:
  ///   - up: `[O, r]`.
  ///   - down: `[r, K]` (`K` is the product of the weight's axes after the first).
  ///   - scale: the factor on `up · down`.
  /// - Precondition: both factors have rank 2 and share the inner extent `r`.
  public init(up: Tensor, down: Tensor, scale: Float) {
    precondition(
      up.rank == 2 && down.rank == 2, "LowRankUpdate needs [O, r] and [r, K], got \(up.shape), \(down.shape)")
    precondition(up.shape[1] == down.shape[0], "LowRankUpdate ranks differ: up \(up.shape), down \(down.shape)")
    self.up = up
    self.down = down
    self.scale = scale
  }

  /// The inner extent `r`.
  public var rank: Int { down.shape[0] }

  /// Bytes the two factors hold.
  public var byteCount: Int { (up.count + down.count) * 4 }

  /// Adds `scale · up[rows] · down` to `values`, a row-major `[rows.count, K]` block (all rows when `rows` is nil).
  /// - Precondition: `values` holds `rows.count · K` (or `O · K`) floats.
  func accumulate(into values: UnsafeMutableBufferPointer<Float>, rows: [Int]? = nil) {
    let (rank, columns) = (down.shape[0], down.shape[1])
    let selected = rows ?? Array(0..<up.shape[0])
    precondition(
      values.count == selected.count * columns, "LowRankUpdate: \(values.count) values for \(selected.count) rows")
    guard !selected.isEmpty, columns > 0, rank > 0 else { return }
    // scale · up[rows]: [rows, r], small; the GEMM then accumulates into the widened weight (beta 1).
    let scaledUp = up.withUnsafeBufferPointer { factor in
      [Float](unsafeUninitializedCapacity: selected.count * rank) { buffer, initialized in
        for (row, index) in selected.enumerated() {
          for column in 0..<rank { buffer[row * rank + column] = scale * factor[index * rank + column] }
        }
        initialized = selected.count * rank
      }
    }
    scaledUp.withUnsafeBufferPointer { left in
      down.withUnsafeBufferPointer { right in
        sgemm(
          transposeA: false, transposeB: false, m: selected.count, n: columns, k: rank,
          a: left.baseAddress!, lda: rank, b: right.baseAddress!, ldb: columns,
          c: values.baseAddress!, ldc: columns, beta: 1)
      }
    }
  }
}
