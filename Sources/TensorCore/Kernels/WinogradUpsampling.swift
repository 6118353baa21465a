internal import CTensorKernels

/// The convolution of an upsampler (diffusers' `Upsample2D`: nearest 2× upsampling, then a 3×3 stride-1
/// padding-1 convolution) in its sub-pixel form, through Winograd F(7×7, 2×2) on the stored image.
///
/// `input`: `[N, C, H, W]`, `weight`: `[O, C, 3, 3]`, `bias`: `[O]` or nil → `[N, O, 2H, 2W]`, the convolution of
/// `upsampleNearest2x(input)`.
///
/// Each output phase (row parity `a`, column parity `b`) of the upsampled image's convolution is a 2×2 convolution
/// of the stored image (`upsamplingPhaseKernels`): along an axis, even outputs read `x[i − 1], x[i]` through the
/// taps `(w0, w1 + w2)`, odd outputs `x[i], x[i + 1]` through `(w0 + w1, w2)`. F(7×7, 2×2) turns one 8×8 window
/// of the stored image into 7×7 outputs of every phase: one input transform (F(6×6, 3×3)'s, on a 4× smaller
/// image) and one GEMM of `4·O` rows per transform point, 64/49 products per output against F(6×6)'s 64/36 on
/// the upsampled image (26 % fewer). The odd phases' outputs of a window sit one position before the even ones',
/// so a batch takes `(H / 7 + 1) × (W / 7 + 1)` tiles per image.
///
/// The products run in parts of `upsamplingGroup` output channels (`WinogradPartition.rows`: one input transform
/// per block of tiles, each part's products transformed back as soon as they are made), so a block holds as many
/// tiles as a `C → C` F(6×6) layer's.
///
/// Matches `conv2d(upsampleNearest2x(input), weight:, bias:, stride: 1, padding: 1)` to about 1e-5 relative error
/// (F(6×6)'s points and transforms: the same order of rounding). Needs a TensorCore kernel family; blocks and
/// threads as `conv2d3x3Winograd` (`maximumBlock` caps the tiles per block, for tests).
package func conv2d3x3WinogradUpsampling(_ input: Tensor, weight: Tensor, bias: Tensor?, maximumBlock: Int? = nil)
  -> Tensor
{
  precondition(input.rank == 4, "conv2d3x3WinogradUpsampling: input \(input.shape) is not [N, C, H, W]")
  let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  precondition(
    weight.rank == 4 && weight.shape[1] == channels && weight.shape[2] == 3 && weight.shape[3] == 3,
    "conv2d3x3WinogradUpsampling: weight \(weight.shape) for input \(input.shape)")
  let outputs = weight.shape[0]
  if let bias {
    precondition(bias.shape == [outputs], "conv2d3x3WinogradUpsampling: bias \(bias.shape) for \(outputs) outputs")
  }
  let plan = GEMMPlan.current
  precondition(!plan.usesBLAS, "conv2d3x3WinogradUpsampling needs a TensorCore kernel family")
  let outputShape = [batch, outputs, 2 * height, 2 * width]
  guard batch > 0 && height > 0 && width > 0 && channels > 0 && outputs > 0 else { return Tensor(shape: outputShape) }

  // U[ξ] of the phase kernels, 4·O rows (4 o + 2 a + b) by C, in parts of `upsamplingGroup` output channels.
  let kernels = upsamplingPhaseKernels(weight)
  let group = upsamplingGroup(outputs: outputs, channels: channels)
  let firsts = Array(stride(from: 0, to: outputs, by: group))
  let shapes = firsts.map {
    (rows: 4 * min(group, outputs - $0), channels: channels, outputs: min(group, outputs - $0))
  }
  let tileCount = batch * (height / upsamplingTileSide + 1) * (width / upsamplingTileSide + 1)
  let (_, blockSize, vStride, mStride) = winogradBlocks(
    tileCount: tileCount, points: upsamplingPoints, channels: channels, outputs: 4 * group,
    weights: 4 * outputs * channels, maximumBlock: maximumBlock)
  let outputPlane = 4 * height * width
  // Part p's kernels: the rows of its output channels.
  func partKernels(part: Int) -> [Float] {
    Array(kernels[16 * firsts[part] * channels..<16 * (firsts[part] + shapes[part].outputs) * channels])
  }
  return withTransformedUpsamplingParts(shapes, kernels: partKernels) { parts in
    Tensor(shape: outputShape) { out in
      input.withUnsafeBufferPointer { x in
        bias.withUnsafeBufferPointer { b in
          convolveWinogradBlocks(
            plan: plan, points: upsamplingPoints, parts: parts, partition: .rows, tileCount: tileCount,
            blockSize: blockSize, vStride: vStride, mStride: mStride,
            transformInput: { tiles, _, range, v in
              withUnsafePointer(to: plan.raw) { raw in
                bld_winograd_input_packed_f32(
                  raw, upsamplingTileSide, x.baseAddress!, channels, height, width, 0, tiles.lowerBound,
                  tiles.upperBound, range.lowerBound, range.upperBound, v, vStride)
              }
            },
            transformOutput: { tiles, part, range, m in
              // The part's output channels, from its first: their planes and bias entries.
              let first = firsts[part]
              bld_winograd_output_upsampling_f32(
                m, outputs, height, width, tiles.lowerBound, tiles.upperBound, b.map { $0.baseAddress! + first },
                range.lowerBound, range.upperBound, out.baseAddress! + first * outputPlane, mStride)
            })
        }
      }
    }
  }
}

/// The output channels of an upsampler's convolution whose products one part of the sub-pixel form computes:
/// `C / 4` (at least one), so a part has `C` product rows (four phases each), and its products and weights per
/// block of tiles are those of a `C → C` F(6×6) layer's. All `4·O` rows at once made blocks 2.5× smaller (their
/// products fill the scratch) and, in the weight gradient, read and wrote a `64·4·O·C`-float accumulator per
/// block: measured on Zen 4 at 512 channels, 128² → 256², the weight gradient took 0.475 s against F(6×6)'s
/// 0.42, and 0.37–0.40 s in parts.
func upsamplingGroup(outputs: Int, channels: Int) -> Int { max(1, min(outputs, channels / 4)) }

/// Transforms each part's 2×2 kernels (`kernels(part)`: `[rows, channels, 2, 2]` of `shapes[part]`) for
/// F(7×7, 2×2), packed for the products, and calls `body` with the parts (`WinogradProductPart`, whose
/// `outputChannels` are the shapes' `outputs`); the transformed weights live until `body` returns.
func withTransformedUpsamplingParts<R>(
  _ shapes: [(rows: Int, channels: Int, outputs: Int)], kernels: (Int) -> [Float],
  _ body: ([WinogradProductPart]) -> R
) -> R {
  let plan = GEMMPlan.current
  let strides = shapes.map { plan.packedLeftFloats(m: $0.rows, k: $0.channels) }
  let offsets = strides.indices.map { part in strides[..<part].reduce(0, +) * upsamplingPoints }
  let storage = UnsafeMutablePointer<Float>.allocate(capacity: max(1, upsamplingPoints * strides.reduce(0, +)))
  defer { storage.deallocate() }
  for (part, shape) in shapes.enumerated() {
    nonisolated(unsafe) let destination = storage + offsets[part]
    kernels(part).withUnsafeBufferPointer { k in
      parallelChunks(
        (shape.rows + plan.tileRows - 1) / plan.tileRows,
        costPerItem: plan.tileRows * shape.channels * 4 * upsamplingPoints
      ) { range in
        withUnsafePointer(to: plan.raw) { raw in
          bld_winograd_weights_packed_f32(
            raw, upsamplingTileSide, k.baseAddress!, shape.rows, shape.channels, range.lowerBound, range.upperBound,
            destination, strides[part])
        }
      }
    }
  }
  return body(
    shapes.indices.map { part in
      WinogradProductPart(
        u: storage + offsets[part], uStride: strides[part], rows: shapes[part].rows,
        channels: shapes[part].channels, outputChannels: shapes[part].outputs)
    })
}

/// The side of an F(7×7, 2×2) output tile (per phase), as the C transforms take it.
let upsamplingTileSide = 7

/// The transform points of F(7×7, 2×2): 8 × 8.
let upsamplingPoints = 64

/// The 3×3 taps along an axis that fall on each of a phase's two stored positions, `[phase][tap]`: the even
/// phase's taps `(w0, w1 + w2)`, the odd phase's `(w0 + w1, w2)`, as the first and last tap summed.
func upsamplingPhaseTaps(phase: Int, tap: Int) -> ClosedRange<Int> {
  switch (phase, tap) {
  case (0, 0): 0...0
  case (0, _): 1...2
  case (_, 0): 0...1
  default: 2...2
  }
}

/// The four 2×2 kernels an upsampler's 3×3 convolution weight `[O, C, 3, 3]` gives on the stored image, `[4·O, C,
/// 2, 2]` flattened, row `4 o + 2 a + b` for output row parity `a` and column parity `b`: along each axis the even
/// phase's taps are `(w0, w1 + w2)` and the odd phase's `(w0 + w1, w2)`. Threads take output channels.
func upsamplingPhaseKernels(_ weight: Tensor) -> [Float] {
  let (outputs, channels) = (weight.shape[0], weight.shape[1])
  return weight.withUnsafeBufferPointer { w in
    nonisolated(unsafe) let source = w.baseAddress!
    return [Float](unsafeUninitializedCapacity: 16 * outputs * channels) { buffer, initialized in
      nonisolated(unsafe) let kernels = buffer.baseAddress!
      parallelChunks(outputs, costPerItem: 64 * channels) { range in
        for o in range {
          for c in 0..<channels {
            let g = source + (o * channels + c) * 9
            for a in 0..<2 {
              for b in 0..<2 {
                let kernel = kernels + ((4 * o + 2 * a + b) * channels + c) * 4
                for r in 0..<2 {
                  for s in 0..<2 {
                    var sum: Float = 0
                    for ky in upsamplingPhaseTaps(phase: a, tap: r) {
                      for kx in upsamplingPhaseTaps(phase: b, tap: s) { sum += g[3 * ky + kx] }
                    }
                    kernel[2 * r + s] = sum
                  }
                }
              }
            }
          }
        }
      }
      initialized = 16 * outputs * channels
    }
  }
}
