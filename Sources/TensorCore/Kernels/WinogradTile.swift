/// The output tile of a Winograd convolution F(m×m, 3×3): each m×m block of outputs comes from an
/// (m + 2)×(m + 2) block of inputs through (m + 2)² element-wise products, each summed over the input channels
/// by one GEMM.
///
/// Both tiles have the same order of rounding error, about 1e-5 of the largest output (measured against fp64 on
/// 128–1280 channels: F(4×4) 8e-6 – 1.3e-5, F(6×6) 1.3e-5 – 2.3e-5; direct fp32 convolution ≈ 7e-7).
/// F(6×6) does 21 % fewer multiplications; its transforms need vector gathers to pay off (Decision 0028).
package enum WinogradTile: Int, Sendable, CaseIterable {
  /// F(4×4, 3×3): 36 products per 16 outputs, 2.25 per output (4× fewer than direct convolution).
  case four = 4
  /// F(6×6, 3×3) with the points 0, ±1, ±2, ±½: 64 products per 36 outputs, 1.78 per output.
  case six = 6

  /// m, the tile's side in outputs.
  package var side: Int { rawValue }

  /// (m + 2)², the transform points: one GEMM each.
  package var pointCount: Int { (rawValue + 2) * (rawValue + 2) }

  /// The tiles covering a batch of `height × width` images (partial edge tiles included).
  package func tileCount(batch: Int, height: Int, width: Int) -> Int {
    batch * ((height + side - 1) / side) * ((width + side - 1) / side)
  }

  /// The tile for a per-call Winograd convolution of a `batch × height × width` image from `inputChannels` to
  /// `outputChannels`, on the kernels in force. F(6×6) where the transforms have their AVX-512 gathers, a
  /// TensorCore GEMM family runs the products, and the image has at least twice as many F(6×6) tiles as
  /// `2·O·C / (O + C)` (the block size at which the GEMMs' reads of the transformed weights stop dominating,
  /// `winogradBlocks`): F(6×6)'s weights are 1.8× larger, so with few tiles their transform and reads cost more
  /// than its products save. F(4×4) otherwise. Measured on Zen 4 (Decision 0028): F(6×6) takes 0.85–0.9× the
  /// time of F(4×4) at 128–512 channels on 256² and 512² images, 1.0× at 512 channels on 128², 1.1× on 64².
  /// The gradients take theirs from `preferredForGradients`.
  package static func preferred(
    batch: Int, height: Int, width: Int, inputChannels: Int, outputChannels: Int
  ) -> WinogradTile {
    sixWhen(
      batch: batch, height: height, width: width, inputChannels: inputChannels, outputChannels: outputChannels,
      tilesPerWeightTile: 2)
  }

  /// The tile for the gradients of a per-call Winograd convolution (`conv2d3x3WinogradBackward`): as `preferred`,
  /// but F(6×6) from a quarter of the tiles, half as many F(6×6) tiles as `2·O·C / (O + C)`. Measured on Zen 4
  /// (Decision 0038), all three gradients with F(6×6) against F(4×4): 0.91–0.96× the time at 512 channels on
  /// 128², 0.85× on 96², 1.0× on 64² and at 256 channels on 128², where the forward gains nothing from F(6×6).
  /// The upsamplers' gradients keep `preferred`'s tile: their sub-pixel form on 128² was 6 % slower.
  package static func preferredForGradients(
    batch: Int, height: Int, width: Int, inputChannels: Int, outputChannels: Int
  ) -> WinogradTile {
    sixWhen(
      batch: batch, height: height, width: width, inputChannels: inputChannels, outputChannels: outputChannels,
      tilesPerWeightTile: 0.5)
  }

  /// F(6×6) where the AVX-512 transforms and a TensorCore GEMM family are in force and the image has at least
  /// `tilesPerWeightTile · 2·O·C / (O + C)` F(6×6) tiles; F(4×4) otherwise.
  private static func sixWhen(
    batch: Int, height: Int, width: Int, inputChannels: Int, outputChannels: Int, tilesPerWeightTile: Double
  ) -> WinogradTile {
    guard !GEMMPlan.current.usesBLAS, ComputeOptions.vectorExtension >= .avx512 else { return .four }
    let weightTiles = 2 * inputChannels * outputChannels / max(1, inputChannels + outputChannels)
    let tiles = WinogradTile.six.tileCount(batch: batch, height: height, width: width)
    return Double(tiles) >= tilesPerWeightTile * Double(weightTiles) ? .six : .four
  }
}
