internal import CTensorKernels

/// The largest im2col workspace of `conv2d`, in floats (4 Mi floats = 16 MiB): a convolution never allocates
/// more column memory than this, however large its input (unless a single output row needs more).
package let conv2dWorkspaceElementLimit = 4 << 20

/// The number of floats of im2col workspace `conv2d` allocates for these shapes: 0 for 1×1 stride-1
/// unpadded convolutions (a GEMM on the input itself), otherwise `C·kH·kW` times the output positions of one
/// tile (its output rows times the output width, rounded up to whole GEMM panels of at most 32), with tiles
/// chosen so the total stays within `conv2dWorkspaceElementLimit` plus that rounding (at least one output row).
package func conv2dWorkspaceElements(inputShape: [Int], weightShape: [Int], stride: Int, padding: Int) -> Int {
  guard let plan = ConvolutionPlan(inputShape: inputShape, weightShape: weightShape, stride: stride, padding: padding)
  else { return 0 }
  return plan.pointwise ? 0 : plan.columnFloats(gemm: GEMMPlan.current)
}

/// The geometry of one convolution and its im2col tiling.
struct ConvolutionPlan {
  let batch: Int, channels: Int, height: Int, width: Int
  let outputChannels: Int, kernelHeight: Int, kernelWidth: Int
  let stride: Int, padding: Int
  let outputHeight: Int, outputWidth: Int
  /// `C · kH · kW`: the GEMM reduction length.
  let reduction: Int
  /// Whether the convolution is a plain GEMM on the input (1×1, stride 1, no padding).
  let pointwise: Bool
  /// Output rows per im2col tile; tiles are balanced so the last one is not a sliver.
  let rowsPerTile: Int

  /// Floats of one tile's im2col matrix: in the GEMM's panel layout (positions rounded up to whole panels) for
  /// a TensorCore kernel family, plain `reduction × positions` for OpenBLAS.
  func columnFloats(gemm: GEMMPlan) -> Int {
    let positions = rowsPerTile * outputWidth
    guard !gemm.usesBLAS else { return reduction * positions }
    return withUnsafePointer(to: gemm.raw) { bld_im2col_panels_floats($0, reduction, positions) }
  }

  init?(inputShape: [Int], weightShape: [Int], stride: Int, padding: Int) {
    guard inputShape.count == 4, weightShape.count == 4, stride > 0, padding >= 0 else { return nil }
    (batch, channels, height, width) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
    (outputChannels, kernelHeight, kernelWidth) = (weightShape[0], weightShape[2], weightShape[3])
    (self.stride, self.padding) = (stride, padding)
    outputHeight = (height + 2 * padding - kernelHeight) / stride + 1
    outputWidth = (width + 2 * padding - kernelWidth) / stride + 1
    guard outputHeight > 0, outputWidth > 0 else { return nil }
    reduction = channels * kernelHeight * kernelWidth
    pointwise = kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0
    let maximumRows = max(1, min(outputHeight, conv2dWorkspaceElementLimit / max(1, reduction * outputWidth)))
    let tiles = (outputHeight + maximumRows - 1) / maximumRows
    rowsPerTile = (outputHeight + tiles - 1) / tiles
  }
}

/// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) through GEMM.
///
/// `input`: `[N, C, H, W]`, `weight`: `[O, C, kH, kW]`, `bias`: `[O]` or nil →
/// `[N, O, (H + 2p − kH) / s + 1, (W + 2p − kW) / s + 1]`.
/// 1×1 stride-1 convolutions are one GEMM on the input itself; others unfold the input into a
/// column buffer tiled by output rows so it never exceeds `conv2dWorkspaceElementLimit` floats. On a
/// TensorCore kernel family the weight is packed into the GEMM's panels once per call (one transient copy of
/// the weight's size) and the input is unfolded straight into the GEMM's right-operand panels, so the
/// products pack nothing; with OpenBLAS the plain im2col matrix goes to `cblas_sgemm`.
public func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
  precondition(input.rank == 4 && weight.rank == 4, "conv2d: input \(input.shape), weight \(weight.shape)")
  precondition(
    input.shape[1] == weight.shape[1], "conv2d: input has \(input.shape[1]) channels, weight expects \(weight.shape[1])"
  )
  precondition(stride > 0 && padding >= 0, "conv2d: stride \(stride), padding \(padding)")
  guard let plan = ConvolutionPlan(inputShape: input.shape, weightShape: weight.shape, stride: stride, padding: padding)
  else { preconditionFailure("conv2d: kernel \(weight.shape) larger than padded input \(input.shape)") }
  if let bias {
    precondition(bias.shape == [plan.outputChannels], "conv2d: bias \(bias.shape) for \(plan.outputChannels) outputs")
  }
  let (batch, channels, height, width) = (plan.batch, plan.channels, plan.height, plan.width)
  let (outputChannels, kernelHeight, kernelWidth) = (plan.outputChannels, plan.kernelHeight, plan.kernelWidth)
  let (outputHeight, outputWidth, reduction) = (plan.outputHeight, plan.outputWidth, plan.reduction)
  let outputPlane = outputHeight * outputWidth
  let rowsPerTile = plan.rowsPerTile
  let gemmPlan = GEMMPlan.current
  let columnCount = plan.pointwise ? 0 : plan.columnFloats(gemm: gemmPlan)

  // The weight, as the GEMM's left operand, is packed once per call and shared by every image and tile
  // (otherwise each GEMM re-packs it: at 8×8–16×16 with 1280 channels that packing rivals the product).
  let tileCount = batch * ((outputHeight + rowsPerTile - 1) / rowsPerTile)
  let prepacked: [Float]? =
    !gemmPlan.usesBLAS && tileCount > 1
    ? weight.withUnsafeBufferPointer { w in
      [Float](unsafeUninitializedCapacity: gemmPlan.packedLeftFloats(m: outputChannels, k: reduction)) {
        buffer, initialized in
        gemmPlan.packLeft(
          transposeA: false, m: outputChannels, k: reduction, a: w.baseAddress!, lda: reduction,
          into: buffer.baseAddress!)
        initialized = buffer.count
      }
    } : nil

  // The panels are 64-byte aligned (the micro-kernels load them with aligned vector loads); im2col writes every
  // element used.
  return Tensor(shape: [batch, outputChannels, outputHeight, outputWidth]) { out in
    ReusableScratch.im2colPanels.withBuffer(floats: columnCount) { column in
      input.withUnsafeBufferPointer { x in
        weight.withUnsafeBufferPointer { w in
          for n in 0..<batch {
            let image = x.baseAddress! + n * channels * height * width
            let result = out.baseAddress! + n * outputChannels * outputPlane
            let beta: Float = bias == nil ? 0 : 1
            if let bias {
              // GEMM accumulates onto the bias (beta = 1). Filled in parallel: this is also the first touch of the
              // output's pages, which is otherwise a serial cost on large outputs.
              bias.withUnsafeBufferPointer { b in
                parallelChunks(outputChannels, costPerItem: outputPlane) { range in
                  for o in range { (result + o * outputPlane).update(repeating: b[o], count: outputPlane) }
                }
              }
            }
            /// `result[:, columns] (+)= W · b` through the pre-packed weight when there is one.
            func multiply(n columnCount: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>) {
              if let prepacked {
                prepacked.withUnsafeBufferPointer { packed in
                  prepackedSGEMM(
                    plan: gemmPlan, packedA: packed.baseAddress!, m: outputChannels, n: columnCount, k: reduction,
                    transposeB: false,
                    b: b, ldb: ldb, c: c, ldc: outputPlane, beta: beta)
                }
              } else {
                sgemm(
                  transposeA: false, transposeB: false, m: outputChannels, n: columnCount, k: reduction,
                  a: w.baseAddress!, lda: reduction, b: b, ldb: ldb, c: c, ldc: outputPlane, beta: beta)
              }
            }
            if plan.pointwise {
              multiply(n: outputPlane, b: image, ldb: outputPlane, c: result)
              continue
            }
            do {
              var rowStart = 0
              while rowStart < outputHeight {
                let rowEnd = min(outputHeight, rowStart + rowsPerTile)
                let tileWidth = (rowEnd - rowStart) * outputWidth
                // Our threads unfold the tile (no GEMM inside); then the GEMM, with its own threads, multiplies it.
                if !gemmPlan.usesBLAS {
                  let panels = (tileWidth + gemmPlan.tileColumns - 1) / gemmPlan.tileColumns
                  withUnsafePointer(to: gemmPlan.raw) { raw in
                    parallelChunks(panels, costPerItem: reduction * gemmPlan.tileColumns) { range in
                      bld_im2col_panels_f32(
                        raw, image, channels, height, width, kernelHeight, kernelWidth, stride, padding, outputWidth,
                        rowStart, rowEnd, range.lowerBound, range.upperBound, column)
                    }
                  }
                  /// `result[:, tile] (+)= W · panels`, the weight pre-packed when several tiles share it.
                  func multiplyPanels(_ a: GEMMLeftOperand) {
                    packedPanelsSGEMM(
                      plan: gemmPlan, a: a, packedB: column, m: outputChannels, n: tileWidth, k: reduction,
                      c: result + rowStart * outputWidth, ldc: outputPlane, beta: beta)
                  }
                  if let prepacked {
                    prepacked.withUnsafeBufferPointer { multiplyPanels(.packed($0.baseAddress!)) }
                  } else {
                    multiplyPanels(.rowMajor(w.baseAddress!, lda: reduction))
                  }
                } else {
                  parallelChunks(channels, costPerItem: kernelHeight * kernelWidth * tileWidth) { range in
                    bld_im2col_f32(
                      image, channels, height, width, kernelHeight, kernelWidth, stride, padding,
                      outputWidth, rowStart, rowEnd, range.lowerBound, range.upperBound, column)
                  }
                  multiply(n: tileWidth, b: column, ldb: tileWidth, c: result + rowStart * outputWidth)
                }
                rowStart = rowEnd
              }
            }
          }
        }
      }
    }
  }
}
