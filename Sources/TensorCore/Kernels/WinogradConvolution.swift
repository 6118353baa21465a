internal import CTensorKernels
import Synchronization

/// The weights of a 3×3 convolution transformed once for Winograd F(m×m, 3×3) (`WinogradTile`).
///
/// Holds `U[ξ] = G·g·Gᵀ` for the (m + 2)² points ξ of the transform, each an `O × C` GEMM left operand
/// already packed into the panels of the micro-kernel family in force when it was made. Build it once per layer
/// (at load) and reuse it for every call. It takes 4× (F(4×4): 36 vs 9 floats per pair) or 7.1× (F(6×6)) the
/// memory of the `[O, C, 3, 3]` weight.
package struct WinogradWeights: Sendable {
  /// Output channels `O` of the convolution.
  package let outputChannels: Int
  /// Input channels `C` of the convolution.
  package let inputChannels: Int
  /// The transform the weights are for (always `.four` with OpenBLAS).
  package let tile: WinogradTile
  /// The transformed weights: `tile.pointCount` matrices `O × C`, each pre-packed for the GEMM (`packLeft`).
  let transformed: [Float]
  /// Floats between consecutive points' packed matrices.
  let pointStride: Int
  /// The GEMM plan whose layout `transformed` has.
  let plan: GEMMPlan

  /// Wraps weights transformed by one of the initialisers.
  fileprivate init(
    outputChannels: Int, inputChannels: Int, tile: WinogradTile, transformed: [Float], pointStride: Int, plan: GEMMPlan
  ) {
    self.outputChannels = outputChannels
    self.inputChannels = inputChannels
    self.tile = tile
    self.transformed = transformed
    self.pointStride = pointStride
    self.plan = plan
  }

  /// Transforms a PyTorch-layout `[O, C, 3, 3]` convolution weight for `tile` (F(4×4) whatever `tile` says when
  /// OpenBLAS runs the products).
  ///
  /// - Throws: `WinogradError.unsupportedWeightShape` when `weight` is not `[O, C, 3, 3]` with `O, C ≥ 1`.
  package init(weight: Tensor, tile: WinogradTile = .four) throws(WinogradError) {
    guard weight.rank == 4, weight.shape[2] == 3, weight.shape[3] == 3, weight.shape[0] > 0, weight.shape[1] > 0
    else { throw .unsupportedWeightShape(weight.shape) }
    let (outputs, inputs) = (weight.shape[0], weight.shape[1])
    outputChannels = outputs
    inputChannels = inputs
    let plan = GEMMPlan.current
    self.plan = plan
    if !plan.usesBLAS {
      self.tile = tile
      let pointStride = plan.packedLeftFloats(m: outputs, k: inputs)
      self.pointStride = pointStride
      // Transform and pack in one pass: each point's O × C matrix goes straight into the GEMM's panels.
      let panels = (outputs + plan.tileRows - 1) / plan.tileRows
      transformed = [Float](unsafeUninitializedCapacity: tile.pointCount * pointStride) { buffer, initialized in
        weight.withUnsafeBufferPointer { w in
          nonisolated(unsafe) let destination = buffer.baseAddress!
          parallelChunks(panels, costPerItem: plan.tileRows * inputs * 4 * tile.pointCount) { range in
            withUnsafePointer(to: plan.raw) { raw in
              bld_winograd_weights_packed_f32(
                raw, tile.side, w.baseAddress!, outputs, inputs, range.lowerBound, range.upperBound, destination,
                pointStride)
            }
          }
        }
        initialized = tile.pointCount * pointStride
      }
      return
    }
    // With OpenBLAS the "packed" form is the plain row-major O × C matrix per point, for F(4×4).
    self.tile = .four
    pointStride = outputs * inputs
    transformed = [Float](unsafeUninitializedCapacity: 36 * outputs * inputs) { buffer, initialized in
      weight.withUnsafeBufferPointer { w in
        nonisolated(unsafe) let destination = buffer.baseAddress!
        parallelChunks(outputs, costPerItem: inputs * 200) { range in
          bld_winograd_f4_weights_f32(
            w.baseAddress!, outputs, inputs, range.lowerBound, range.upperBound, destination)
        }
      }
      initialized = 36 * outputs * inputs
    }
  }
}

extension WinogradWeights {
  /// Transforms a PyTorch-layout `[O, C, 3, 3]` convolution weight stored at half width (IEEE half or bfloat16
  /// bits, `shape` its shape) for `tile`: each row panel's output channels are widened into a small staging
  /// buffer and transformed from there, so the weight is never widened whole. The same transformed floats as
  /// `init(weight:tile:)` on the widened weight. Needs a TensorCore kernel family.
  ///
  /// - Throws: `WinogradError.unsupportedWeightShape` when `shape` is not `[O, C, 3, 3]` with `O, C ≥ 1`.
  package init(
    shape: [Int], halfPrecisionBits bits: UnsafePointer<UInt16>, isBFloat16: Bool, tile: WinogradTile = .four
  ) throws(WinogradError) {
    guard shape.count == 4, shape[2] == 3, shape[3] == 3, shape[0] > 0, shape[1] > 0 else {
      throw .unsupportedWeightShape(shape)
    }
    let plan = GEMMPlan.current
    precondition(!plan.usesBLAS, "WinogradWeights(halfPrecisionBits:) needs a TensorCore kernel family")
    let (outputs, inputs) = (shape[0], shape[1])
    let pointStride = plan.packedLeftFloats(m: outputs, k: inputs)
    let (panels, rows) = ((outputs + plan.tileRows - 1) / plan.tileRows, plan.tileRows)
    let transformed = [Float](unsafeUninitializedCapacity: tile.pointCount * pointStride) { buffer, initialized in
      nonisolated(unsafe) let destination = buffer.baseAddress!
      parallelChunks(panels, costPerItem: rows * inputs * 4 * tile.pointCount) { range in
        let staging = UnsafeMutablePointer<Float>.allocate(capacity: rows * inputs * 9)
        defer { staging.deallocate() }
        withUnsafePointer(to: plan.raw) { raw in
          bld_winograd_weights_packed_half(
            raw, tile.side, bits, isBFloat16 ? 1 : 0, outputs, inputs, range.lowerBound, range.upperBound, staging,
            destination, pointStride)
        }
      }
      initialized = tile.pointCount * pointStride
    }
    self.init(
      outputChannels: outputs, inputChannels: inputs, tile: tile, transformed: transformed, pointStride: pointStride,
      plan: plan)
  }
}

/// An invalid argument to the Winograd convolution.
package enum WinogradError: Error, Equatable, CustomStringConvertible {
  /// The weight tensor is not `[O, C, 3, 3]`.
  case unsupportedWeightShape([Int])

  /// A one-line explanation naming the problem.
  package var description: String {
    switch self {
    case .unsupportedWeightShape(let shape): "WinogradWeights: weight shape \(shape) is not [O, C, 3, 3]"
    }
  }
}

/// The most scratch floats (transformed input and products) one Winograd call holds: 24M floats, 96 MiB. Only
/// layers whose transformed weights exceed the cache reach it (`winogradBlocks`), and there a larger block
/// reads those weights fewer times (Decision 0040).
let winogradWorkspaceLimit = 24 << 20

/// 3×3 convolution with stride 1 and padding 1 through Winograd F(m×m, 3×3), m the weights' `tile`.
///
/// `input`: `[N, C, H, W]`, `weights`: built from `[O, C, 3, 3]`, `bias`: `[O]` or nil → `[N, O, H, W]`.
///
/// Matches: `conv2d(input, weight:, bias:, stride: 1, padding: 1)` (PyTorch `Conv2d(k=3, s=1, p=1)`) to
/// about 1e-5 relative error (max |Δ| / max |expected|; `WinogradTile` has the measurements); any
/// `H, W ≥ 1` (partial edge tiles are zero-padded and cropped) and any channel counts.
///
/// Limitations: only 3×3, stride 1, padding 1, no dilation or groups. Spatial tiles of the whole batch are
/// processed in blocks so scratch stays below `winogradWorkspaceLimit` floats. The per-point GEMMs
/// run on the micro-kernel family the weights were packed for, split across `ComputeOptions.threadCount`
/// threads (OpenBLAS for `MatrixKernel.blas`). Arithmetic is 4× (F(4×4)) or 5× (F(6×6)) less than direct
/// convolution; for tiny images (a few tiles) the GEMMs become thin and im2col may be as fast.
///
/// `resampling` convolves the nearest 2× upsampling of `input` (`.upsampledInput`, output `[N, O, 2H, 2W]`) or sums
/// each 2×2 block of the output (`.summedOutput`, output `[N, O, H / 2, W / 2]`, H and W even) inside the
/// transforms, with the same results as the separate upsampling or summing pass.
///
/// `residual` (the output's shape, not with `.summedOutput`) is added to each output as the output transform writes
/// it: the same bits as adding it afterwards (`Tensor.add`), without a pass over the output (a residual
/// connection's sum).
///
/// `maximumBlock` caps the tiles per block below `winogradBlocks`' choice (tests use it to make many blocks on
/// small images, so the threads take whole blocks: `winogradBlocksAreThreadLocal`). The output is the same bit
/// for bit however the blocks are shared among threads.
package func conv2d3x3Winograd(
  _ input: Tensor, weights: WinogradWeights, bias: Tensor?, resampling: WinogradResampling = .none,
  adding residual: Tensor? = nil, maximumBlock: Int? = nil
) -> Tensor {
  precondition(input.rank == 4, "conv2d3x3Winograd: input \(input.shape) is not [N, C, H, W]")
  precondition(
    input.shape[1] == weights.inputChannels,
    "conv2d3x3Winograd: input has \(input.shape[1]) channels, weights expect \(weights.inputChannels)")
  let (batch, channels) = (input.shape[0], input.shape[1])
  let (height, width) = resampling.imageSize(inputHeight: input.shape[2], inputWidth: input.shape[3])
  precondition(
    resampling != .summedOutput || (height % 2 == 0 && width % 2 == 0),
    "conv2d3x3Winograd: summing 2×2 output blocks needs an even height and width, got \(input.shape)")
  let outputs = weights.outputChannels
  if let bias { precondition(bias.shape == [outputs], "conv2d3x3Winograd: bias \(bias.shape) for \(outputs) outputs") }
  let outputShape = resampling.outputShape(batch: batch, outputs: outputs, height: height, width: width)
  if let residual {
    precondition(
      resampling != .summedOutput && residual.shape == outputShape,
      "conv2d3x3Winograd: residual \(residual.shape) for output \(outputShape) (\(resampling))")
  }
  guard batch > 0 && height > 0 && width > 0 else { return Tensor(shape: outputShape) }
  let (upsampled, summed): (Int32, Int32) = (resampling == .upsampledInput ? 1 : 0, resampling == .summedOutput ? 1 : 0)

  let tile = weights.tile
  let (tileCount, blockSize, vStride, mStride) = winogradBlocks(
    tile: tile, batch: batch, height: height, width: width, channels: channels, outputs: outputs,
    maximumBlock: maximumBlock)
  let plan = weights.plan
  return Tensor(shape: outputShape) { out in
    input.withUnsafeBufferPointer { x in
      weights.transformed.withUnsafeBufferPointer { u in
        bias.withUnsafeBufferPointer { b in
          residual.withUnsafeBufferPointer { r in
            convolveWinogradBlocks(
              plan: plan, points: tile.pointCount,
              parts: [
                WinogradProductPart(
                  u: u.baseAddress!, uStride: weights.pointStride, rows: outputs, channels: channels,
                  outputChannels: outputs)
              ], partition: .rows, tileCount: tileCount, blockSize: blockSize, vStride: vStride, mStride: mStride,
              transformInput: { tiles, _, range, v in
                if plan.usesBLAS {
                  bld_winograd_input_f32(
                    tile.side, x.baseAddress!, channels, height, width, upsampled, tiles.lowerBound, tiles.upperBound,
                    range.lowerBound, range.upperBound, v, vStride)
                } else {
                  withUnsafePointer(to: plan.raw) { raw in
                    bld_winograd_input_packed_f32(
                      raw, tile.side, x.baseAddress!, channels, height, width, upsampled, tiles.lowerBound,
                      tiles.upperBound, range.lowerBound, range.upperBound, v, vStride)
                  }
                }
              },
              transformOutput: { tiles, _, range, m in
                bld_winograd_output_f32(
                  tile.side, m, outputs, height, width, summed, tiles.lowerBound, tiles.upperBound, b?.baseAddress,
                  r?.baseAddress, range.lowerBound, range.upperBound, out.baseAddress!, mStride)
              })
          }
        }
      }
    }
  }
}

/// A share of a Winograd convolution's products: its transformed weights `U[ξ]` (`rows × channels`, packed, points
/// `uStride` floats apart) and the output channels the output transform writes from it.
struct WinogradProductPart {
  /// The first point's packed matrix.
  let u: UnsafePointer<Float>
  /// Floats between consecutive points' matrices.
  let uStride: Int
  /// The product rows this part computes (`partition` `.rows`), or all of them (`.channels`).
  let rows: Int
  /// The input channels this part reduces over (`.channels`), or all of them (`.rows`).
  let channels: Int
  /// The output channels the output transform writes from this part's products (`.rows`), or from all parts' sum.
  let outputChannels: Int
}

/// How the parts of a Winograd convolution's products divide them.
enum WinogradPartition {
  /// Each part computes some product rows from all input channels: one input transform per block, and each
  /// part's products go to the output transform as soon as they are made.
  case rows
  /// Each part reduces over some input channels (transformed for it) into all product rows; the parts' products
  /// are summed, then transformed back once.
  case channels
}

/// Runs the blocks of tiles of a Winograd convolution (`winogradBlocks`): per block, `transformInput` writes the
/// transformed input of a range of a part's input channels (`.channels`; with `.rows` all channels, once, as part
/// 0), `M[ξ] = U[ξ]·V[ξ]` (`rows × channels` by `channels × T`, `multiplyTransformed`) for the `points` transform
/// points of each part, and `transformOutput` writes the outputs of a range of a part's output channels from its
/// products (`.rows`), or of all of them from the sum (`.channels`, as part 0). Splitting the products into
/// parts keeps a block's products (or transformed inputs) to a part's rows (or channels), so blocks hold more
/// tiles and the weights are read fewer times. Each thread takes whole blocks (`winogradBlocksAreThreadLocal`)
/// or the threads share each block's stages; the outputs are the same bit for bit either way.
func convolveWinogradBlocks(
  plan: GEMMPlan, points: Int, parts: [WinogradProductPart], partition: WinogradPartition, tileCount: Int,
  blockSize: Int, vStride: Int, mStride: Int,
  transformInput: (_ tiles: Range<Int>, _ part: Int, _ channels: Range<Int>, _ v: UnsafeMutablePointer<Float>) -> Void,
  transformOutput: (_ tiles: Range<Int>, _ part: Int, _ outputs: Range<Int>, _ m: UnsafeMutablePointer<Float>) -> Void
) {
  let blockCount = (tileCount + blockSize - 1) / blockSize
  let workspaceFloats = points * (vStride + mStride)
  let work = parts.reduce(0) { $0 + $1.rows * $1.channels }
  // Transforms, multiplies and inverts the tiles of one block, each stage split across the threads (`split`) or
  // all on the calling thread.
  func convolve(block: Int, workspace: UnsafeMutablePointer<Float>, split: Bool) {
    let tiles = (block * blockSize)..<min(tileCount, (block + 1) * blockSize)
    let (v, m) = (workspace, workspace + points * vStride)
    let cost = tiles.count * 4 * points
    for (index, part) in parts.enumerated() {
      if partition == .channels || index == 0 {
        forEachPart(part.channels, costPerItem: cost, split: split) { range in transformInput(tiles, index, range, v) }
      }
      multiplyTransformed(
        plan: plan, points: points, u: part.u, uStride: part.uStride, v: v, vStride: vStride, m: m,
        mStride: mStride, outputs: part.rows, channels: part.channels, tiles: tiles.count,
        beta: partition == .channels && index > 0 ? 1 : 0, split: split)
      if partition == .rows || index == parts.count - 1 {
        let outputs = partition == .rows ? part.outputChannels : parts[0].outputChannels
        forEachPart(outputs, costPerItem: cost * part.rows / max(1, outputs), split: split) { range in
          transformOutput(tiles, partition == .rows ? index : 0, range, m)
        }
      }
    }
  }
  if winogradBlocksAreThreadLocal(blockCount: blockCount, blockFloats: workspaceFloats, plan: plan) {
    parallelChunks(blockCount, costPerItem: blockSize * work) { blocks in
      ReusableScratch.winograd.withBuffer(floats: workspaceFloats) { workspace in
        for block in blocks { convolve(block: block, workspace: workspace, split: false) }
      }
    }
  } else {
    ReusableScratch.winograd.withBuffer(floats: workspaceFloats) { workspace in
      for block in 0..<blockCount { convolve(block: block, workspace: workspace, split: true) }
    }
  }
}

/// Whether each thread takes whole blocks of tiles (transforms, products and inverse transforms of a block on
/// one thread) instead of all threads sharing every stage of each block: with at least two blocks per thread,
/// blocks whose scratch (`blockFloats`) fits half this core's share of L3, and a TensorCore kernel family
/// (OpenBLAS may not run inside a parallel region).
///
/// Sharing the stages hands each block's transformed tiles and products from the threads that wrote them to
/// the threads that read them (split by channels, then by points, then by output channels). On a CPU whose
/// threads sit on different L3 caches (an EPYC's core complexes, or a VM whose virtual CPUs the host moves
/// between them) those reads cross between the caches: on a 2-vCPU Zen 4 VM a thread read another's freshly
/// written 4 MB at 25 GB/s against 98 GB/s for its own, and the shared scheme's 128-channel 512² backward
/// took 0.34–0.37 s against 0.21 s while the vCPUs were apart. Whole blocks per thread read only what the
/// thread wrote (and the shared transformed weights), the same weight reads per tile, one parallel region per
/// call instead of three per block. Blocks too large for the cache (the weights did not fit, so blocks grew to
/// keep their reads low: 256 channels and more) go through memory either way, and one block per thread would
/// double that traffic (measured 3–14 % slower at 256 and 512 channels), so their threads share the stages; so
/// do a few blocks of many channels, where each block's weights are then read once.
func winogradBlocksAreThreadLocal(blockCount: Int, blockFloats: Int, plan: GEMMPlan) -> Bool {
  !plan.usesBLAS && ComputeOptions.threadCount > 1 && blockCount >= 2 * ComputeOptions.threadCount
    && blockFloats * MemoryLayout<Float>.size <= ProcessorDescription.current.l3Share / 2
}

/// Runs `body` over `0..<count` split across the threads (`parallelChunks`) when `split`, else in one piece on
/// the calling thread.
func forEachPart(_ count: Int, costPerItem: Int, split: Bool, _ body: (Range<Int>) -> Void) {
  if split {
    parallelChunks(count, costPerItem: costPerItem, body)
  } else {
    body(0..<count)
  }
}

/// How the Winograd passes (forward and weight gradient) walk a batch: all `tile` tiles, and per block of tiles
/// (balanced across blocks, rounded to 32 for the GEMM panels) the strides of the `tile.pointCount` transformed
/// input and output matrices, padded by 16 floats each so they do not alias in cache sets (and the output transform may
/// read whole vectors past a matrix's last row).
///
/// A block's transformed inputs and products, `P·(C + O)·T` floats for `P` points and `T` tiles, are written by
/// the transforms and read by the products a moment later, so a block holds as many tiles as let them fill a
/// quarter of this core's share of L3 (the rest holds the weights and the image rows streaming through).
/// When the transformed weights (`P·O·C` floats, read once per block) do not fit half that share, a block
/// also holds at least `2·O·C / (C + O)` tiles, so those weight reads stay below the tiles'. Never more than
/// `winogradWorkspaceLimit` floats in all. Measured on a Zen 4 (16 MiB of L3 per core): 128 channels at
/// 512×512 (the VAE decoder's last level, F(6×6)) 109 ms with blocks of 64 tiles against 135 ms with the
/// 320 that a third of L2 per point gave. 256 channels take blocks of 256 tiles (F(6×6)); 512 channels 384
/// (F(6×6)) or 512 (F(4×4)), where the 24 MiB limit of Decision 0003 held them to 192, 96 and 160 (Decision 0040:
/// the 512-channel gradients 10–17 % faster).
///
/// `maximumBlock` (a multiple of 32) replaces that choice when given.
func winogradBlocks(
  tile: WinogradTile, batch: Int, height: Int, width: Int, channels: Int, outputs: Int, maximumBlock: Int? = nil
) -> (tileCount: Int, blockSize: Int, inputStride: Int, outputStride: Int) {
  winogradBlocks(
    tileCount: tile.tileCount(batch: batch, height: height, width: width), points: tile.pointCount,
    channels: channels, outputs: outputs, maximumBlock: maximumBlock)
}

/// `winogradBlocks(tile:batch:height:width:channels:outputs:maximumBlock:)` for `tileCount` tiles of a transform
/// with `points` points (`outputs` the products' rows).
///
/// `weights` (the products' `rows × channels` pairs that each block reads, `outputs · channels` by default) is
/// larger when the products come in parts (`WinogradProductPart`), a block holding one part's products
/// (`outputs` rows) or transformed inputs (`channels`) at a time.
func winogradBlocks(
  tileCount: Int, points: Int, channels: Int, outputs: Int, weights: Int? = nil, maximumBlock: Int? = nil
) -> (tileCount: Int, blockSize: Int, inputStride: Int, outputStride: Int) {
  let perTile = points * (channels + outputs)
  let weights = weights ?? outputs * channels
  let l3Share = ProcessorDescription.current.l3Share
  let floatSize = MemoryLayout<Float>.size
  let cacheTiles = l3Share / 4 / (floatSize * perTile)
  let weightsFit = floatSize * points * weights <= l3Share / 2
  let weightTiles = weightsFit ? 0 : 2 * weights / (channels + outputs)
  let maximumBlock =
    maximumBlock ?? max(32, min(winogradWorkspaceLimit / perTile, max(cacheTiles, weightTiles)) / 32 * 32)
  let blockCount = (tileCount + maximumBlock - 1) / maximumBlock
  let blockSize = min(tileCount, ((tileCount + blockCount - 1) / blockCount + 31) / 32 * 32)
  // Input matrices hold whole GEMM panels (up to 32 columns) when the transform writes them packed.
  return (tileCount, blockSize, channels * ((blockSize + 31) / 32 * 32) + 16, outputs * blockSize + 16)
}

/// `M[ξ] = U[ξ]·V[ξ]` for the `points` transform points: `[O × C]·[C × T]` each, `U[ξ]` pre-packed and, on a
/// TensorCore kernel family, `V[ξ]` written packed by the input transform (rows of `T` for OpenBLAS). Always fp32,
/// whatever `ComputeOptions.matrixPrecision` says: the transformed tiles span a wide range and the output
/// transform cancels large terms, so bf16 operands gave 6.9 % error where a bf16 im2col convolution gives
/// 0.23 % (both measured on `MatrixPrecisionTests` shapes); and Winograd's 4× fewer multiplies save more than
/// bf16's 1.5–2× GEMM throughput would. `beta` 1 adds the products to `M` (the parts of `WinogradPartition.channels`).
/// `split` shares the points among the threads (always, with OpenBLAS); otherwise every product runs on the
/// calling thread.
func multiplyTransformed(
  plan: GEMMPlan, points: Int, u: UnsafePointer<Float>, uStride: Int, v: UnsafeMutablePointer<Float>, vStride: Int,
  m: UnsafeMutablePointer<Float>, mStride: Int, outputs: Int, channels: Int, tiles: Int, beta: Float = 0, split: Bool
) {
  guard !plan.usesBLAS else {
    for point in 0..<points {
      prepackedSGEMM(
        plan: plan, packedA: u + point * uStride, m: outputs, n: tiles, k: channels, transposeB: false,
        b: v + point * vStride, ldb: tiles, c: m + point * mStride, ldc: tiles, beta: beta, precision: .float32)
    }
    return
  }
  // Many medium GEMMs: one thread per group of points beats splitting each product.
  nonisolated(unsafe) let (uBase, vBase, mBase) = (u, v, m)
  forEachPart(points, costPerItem: outputs * channels * tiles, split: split) { range in
    for point in range {
      prepackedProductSingleThreaded(
        plan: plan, packedA: uBase + point * uStride, packedB: vBase + point * vStride, m: outputs, n: tiles,
        k: channels, c: mBase + point * mStride, ldc: tiles, beta: beta)
    }
  }
}

extension Optional where Wrapped == Tensor {
  /// Calls `body` with the tensor's buffer, or with nil when there is no tensor.
  func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>?) -> R) -> R {
    switch self {
    case .some(let tensor): tensor.withUnsafeBufferPointer { body($0) }
    case .none: body(nil)
    }
  }
}

// MARK: - Per-call weight transform

/// The fewest 4×4 output tiles (over the whole batch) at which Winograd with a per-call weight transform beats
/// im2col (`conv2d3x3WinogradIsPreferred`; `ConvolutionAlgorithm.preferred` when the weights cannot be streamed).
/// Transforming and packing the weights touches `36·O·C` floats twice, about as much memory traffic as the
/// GEMMs' own weight reads at ~100 tiles; measured on the SD UNet at batch 2 (Documentation/Performance.md): 320
/// channels at 64×64 (512 tiles) and 640 at 32×32 (128 tiles) gain, 1280 at 16×16 (32 tiles) loses to im2col.
package let winogradPerCallMinimumTiles = 96

/// Whether a 3×3 convolution with these shapes is faster through `conv2d3x3Winograd(_:weight:bias:)` (the
/// weights transformed per call) than through im2col: a shape Winograd takes (`winogradApplies`) with at least
/// `winogradPerCallMinimumTiles` output tiles. The convolution backward
/// takes its Winograd data and weight gradients by this rule.
package func conv2d3x3WinogradIsPreferred(inputShape: [Int], weightShape: [Int], stride: Int, padding: Int) -> Bool {
  guard winogradApplies(inputShape: inputShape, weightShape: weightShape, stride: stride, padding: padding)
  else { return false }
  let tiles = WinogradTile.four.tileCount(batch: inputShape[0], height: inputShape[2], width: inputShape[3])
  return tiles >= winogradPerCallMinimumTiles
}

/// Whether a convolution with these shapes can run through Winograd at all: `[N, C, H, W]` input, `[O, C, 3, 3]`
/// weight with C, O ≥ 1, stride 1, padding 1, and a TensorCore GEMM family in force (not OpenBLAS).
func winogradApplies(inputShape: [Int], weightShape: [Int], stride: Int, padding: Int) -> Bool {
  !GEMMPlan.current.usesBLAS && inputShape.count == 4 && weightShape.count == 4 && stride == 1 && padding == 1
    && weightShape[2] == 3 && weightShape[3] == 3 && inputShape[1] == weightShape[1] && inputShape[1] > 0
    && weightShape[0] > 0
}

/// 3×3 convolution with stride 1 and padding 1 through Winograd, transforming `weight` (`[O, C, 3, 3]`) for
/// this call only, for `tile` (by default `WinogradTile.preferred` for the convolved image's size): no transformed
/// copy outlives the call, so a network's weights stay at 1× memory. Same contract and accuracy as
/// `conv2d3x3Winograd(_:weights:bias:resampling:adding:maximumBlock:)`; the transform holds about `2·(m + 2)²·O·C`
/// floats while it runs.
package func conv2d3x3Winograd(
  _ input: Tensor, weight: Tensor, bias: Tensor?, tile: WinogradTile? = nil, resampling: WinogradResampling = .none,
  adding residual: Tensor? = nil, maximumBlock: Int? = nil
) -> Tensor {
  precondition(input.rank == 4, "conv2d3x3Winograd: input \(input.shape) is not [N, C, H, W]")
  let image = resampling.imageSize(inputHeight: input.shape[2], inputWidth: input.shape[3])
  let tile =
    tile
    ?? .preferred(
      batch: input.shape[0], height: image.height, width: image.width, inputChannels: input.shape[1],
      outputChannels: weight.shape[0])
  let weights: WinogradWeights
  do {
    weights = try WinogradWeights(weight: weight, tile: tile)
  } catch {
    preconditionFailure("conv2d3x3Winograd: \(error)")
  }
  return conv2d3x3Winograd(
    input, weights: weights, bias: bias, resampling: resampling, adding: residual, maximumBlock: maximumBlock)
}
