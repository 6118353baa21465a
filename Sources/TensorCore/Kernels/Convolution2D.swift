internal import CTensorKernels

/// The largest im2col workspace of `conv2d`, in floats (4 Mi floats = 16 MiB): a convolution never allocates
/// more column memory than this, however large its input (unless a single output row needs more).
package let conv2dWorkspaceElementLimit = 4 << 20

/// The number of floats of im2col workspace `conv2d` allocates for these shapes: none on a TensorCore kernel
/// family (the product unfolds the input block by block into its own panels) or for 1×1 stride-1 unpadded
/// convolutions (a GEMM on the input itself); with OpenBLAS, `C·kH·kW` times the output positions of one tile (its
/// output rows times the output width), with tiles chosen so the total stays within `conv2dWorkspaceElementLimit`
/// (at least one output row).
package func conv2dWorkspaceElements(inputShape: [Int], weightShape: [Int], stride: Int, padding: Int) -> Int {
  guard let plan = ConvolutionPlan(inputShape: inputShape, weightShape: weightShape, stride: stride, padding: padding)
  else { return 0 }
  return plan.pointwise || !GEMMPlan.current.usesBLAS ? 0 : plan.columnFloats
}

/// The geometry of one convolution and its im2col tiling (OpenBLAS path).
struct ConvolutionPlan {
  let batch: Int, channels: Int, height: Int, width: Int
  let outputChannels: Int, kernelHeight: Int, kernelWidth: Int
  let stride: Int, padding: Int
  let outputHeight: Int, outputWidth: Int
  /// `C · kH · kW`: the GEMM reduction length.
  let reduction: Int
  /// Whether the convolution is a plain GEMM on the input (1×1, stride 1, no padding).
  let pointwise: Bool
  /// Output rows per im2col tile of the OpenBLAS path; tiles are balanced so the last one is not a sliver.
  let rowsPerTile: Int

  /// Floats of one tile's im2col matrix (`reduction × positions`), which only the OpenBLAS path stores.
  var columnFloats: Int { reduction * rowsPerTile * outputWidth }

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
/// 1×1 stride-1 convolutions are one GEMM on the input itself. Others, on a TensorCore kernel family, pack the
/// weight into the GEMM's panels once per call (one transient copy of the weight's size) and unfold the input
/// block by block inside the product, straight into the right-operand panels its micro-kernels read next, so
/// no im2col matrix is ever stored. With OpenBLAS the plain im2col matrix, tiled by output rows so it never
/// exceeds `conv2dWorkspaceElementLimit` floats, goes to `cblas_sgemm`.
public func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
  let plan = validatedConvolutionPlan(
    input: input, weightShape: weight.shape, bias: bias, stride: stride, padding: padding)
  let gemmPlan = GEMMPlan.current
  guard gemmPlan.usesBLAS else {
    // The weight, as the GEMM's left operand, is packed once per call and shared by every image and piece
    // (otherwise each product re-packs it: at 8×8–16×16 with 1280 channels that packing rivals the product).
    let packed = weight.withUnsafeBufferPointer { w in
      [Float](unsafeUninitializedCapacity: gemmPlan.packedLeftFloats(m: plan.outputChannels, k: plan.reduction)) {
        buffer, initialized in
        gemmPlan.packLeft(
          transposeA: false, m: plan.outputChannels, k: plan.reduction, a: w.baseAddress!, lda: plan.reduction,
          into: buffer.baseAddress!)
        initialized = buffer.count
      }
    }
    return conv2d(input, plan: plan, gemm: gemmPlan, packedWeight: packed, bias: bias)
  }
  let (batch, channels, height, width) = (plan.batch, plan.channels, plan.height, plan.width)
  let (outputChannels, kernelHeight, kernelWidth) = (plan.outputChannels, plan.kernelHeight, plan.kernelWidth)
  let (outputHeight, outputWidth, reduction) = (plan.outputHeight, plan.outputWidth, plan.reduction)
  let outputPlane = outputHeight * outputWidth
  let columnCount = plan.pointwise ? 0 : plan.columnFloats
  return Tensor(shape: [batch, outputChannels, outputHeight, outputWidth]) { out in
    ReusableScratch.im2colColumns.withBuffer(floats: columnCount) { column in
      weight.withUnsafeBufferPointer { w in
        forEachImage(of: input, plan: plan, output: out.baseAddress!, bias: bias) { image, result, beta in
          if plan.pointwise {
            sgemm(
              transposeA: false, transposeB: false, m: outputChannels, n: outputPlane, k: reduction,
              a: w.baseAddress!, lda: reduction, b: image, ldb: outputPlane, c: result, ldc: outputPlane, beta: beta)
            return
          }
          var rowStart = 0
          while rowStart < outputHeight {
            let rowEnd = min(outputHeight, rowStart + plan.rowsPerTile)
            let tileWidth = (rowEnd - rowStart) * outputWidth
            // Our threads unfold the tile (no GEMM inside); then OpenBLAS, with its own threads, multiplies it.
            parallelChunks(channels, costPerItem: kernelHeight * kernelWidth * tileWidth) { range in
              bld_im2col_f32(
                image, channels, height, width, kernelHeight, kernelWidth, stride, padding,
                outputWidth, rowStart, rowEnd, range.lowerBound, range.upperBound, column)
            }
            sgemm(
              transposeA: false, transposeB: false, m: outputChannels, n: tileWidth, k: reduction,
              a: w.baseAddress!, lda: reduction, b: column, ldb: tileWidth, c: result + rowStart * outputWidth,
              ldc: outputPlane, beta: beta)
            rowStart = rowEnd
          }
        }
      }
    }
  }
}

/// `conv2d(_:weight:bias:stride:padding:)` with the weight stored at half width (IEEE half or bfloat16 bits of an
/// `[O, C, kH, kW]` tensor of shape `weightShape`), packed into the GEMM's panels straight from those bits, so the
/// weight is never widened whole. Same results as widening it first. Needs a TensorCore kernel family.
package func conv2d(
  _ input: Tensor, weightShape: [Int], halfPrecisionBits bits: UnsafePointer<UInt16>, isBFloat16: Bool, bias: Tensor?,
  stride: Int = 1, padding: Int = 0
) -> Tensor {
  let plan = validatedConvolutionPlan(
    input: input, weightShape: weightShape, bias: bias, stride: stride, padding: padding)
  let gemmPlan = GEMMPlan.current
  precondition(!gemmPlan.usesBLAS, "conv2d(halfPrecisionBits:) needs a TensorCore kernel family")
  let packed = [Float](
    unsafeUninitializedCapacity: gemmPlan.packedLeftFloats(m: plan.outputChannels, k: plan.reduction)
  ) {
    buffer, initialized in
    gemmPlan.packLeft(
      m: plan.outputChannels, k: plan.reduction, halfPrecisionBits: bits, isBFloat16: isBFloat16,
      into: buffer.baseAddress!)
    initialized = buffer.count
  }
  return conv2d(input, plan: plan, gemm: gemmPlan, packedWeight: packed, bias: bias)
}

/// The convolution's geometry, after checking the shapes, stride, padding and bias.
private func validatedConvolutionPlan(input: Tensor, weightShape: [Int], bias: Tensor?, stride: Int, padding: Int)
  -> ConvolutionPlan
{
  precondition(input.rank == 4 && weightShape.count == 4, "conv2d: input \(input.shape), weight \(weightShape)")
  precondition(
    input.shape[1] == weightShape[1], "conv2d: input has \(input.shape[1]) channels, weight expects \(weightShape[1])")
  precondition(stride > 0 && padding >= 0, "conv2d: stride \(stride), padding \(padding)")
  guard let plan = ConvolutionPlan(inputShape: input.shape, weightShape: weightShape, stride: stride, padding: padding)
  else { preconditionFailure("conv2d: kernel \(weightShape) larger than padded input \(input.shape)") }
  if let bias {
    precondition(bias.shape == [plan.outputChannels], "conv2d: bias \(bias.shape) for \(plan.outputChannels) outputs")
  }
  return plan
}

/// Calls `body` for each image of the batch with the image, its output (`[O, H′, W′]` within `output`) and the
/// GEMM's beta. With a bias the output is first filled with it and beta is 1, so the GEMM accumulates onto it
/// (filled in parallel: this is also the first touch of the output's pages, otherwise a serial cost on large
/// outputs); without one beta is 0.
private func forEachImage(
  of input: Tensor, plan: ConvolutionPlan, output: UnsafeMutablePointer<Float>, bias: Tensor?,
  _ body: (_ image: UnsafePointer<Float>, _ result: UnsafeMutablePointer<Float>, _ beta: Float) -> Void
) {
  let outputPlane = plan.outputHeight * plan.outputWidth
  input.withUnsafeBufferPointer { x in
    for n in 0..<plan.batch {
      let result = output + n * plan.outputChannels * outputPlane
      if let bias {
        bias.withUnsafeBufferPointer { b in
          parallelChunks(plan.outputChannels, costPerItem: outputPlane) { range in
            for o in range { (result + o * outputPlane).update(repeating: b[o], count: outputPlane) }
          }
        }
      }
      body(x.baseAddress! + n * plan.channels * plan.height * plan.width, result, bias == nil ? 0 : 1)
    }
  }
}

/// The TensorCore path of `conv2d`: every image through the weight packed once (`packedWeight`, the left
/// operand's panels).
private func conv2d(
  _ input: Tensor, plan: ConvolutionPlan, gemm gemmPlan: GEMMPlan, packedWeight: [Float], bias: Tensor?
) -> Tensor {
  let (outputChannels, reduction) = (plan.outputChannels, plan.reduction)
  let outputPlane = plan.outputHeight * plan.outputWidth
  return Tensor(shape: [plan.batch, outputChannels, plan.outputHeight, plan.outputWidth]) { out in
    packedWeight.withUnsafeBufferPointer { packed in
      forEachImage(of: input, plan: plan, output: out.baseAddress!, bias: bias) { image, result, beta in
        if plan.pointwise {
          prepackedSGEMM(
            plan: gemmPlan, packedA: packed.baseAddress!, m: outputChannels, n: outputPlane, k: reduction,
            transposeB: false, b: image, ldb: outputPlane, c: result, ldc: outputPlane, beta: beta)
        } else {
          convolutionProduct(
            plan: plan, gemm: gemmPlan, image: image, packedWeight: packed.baseAddress!, beta: beta, output: result)
        }
      }
    }
  }
}

/// `output (+)= W · im2col(image)` for one image on `ComputeOptions.threadCount` threads, the im2col matrix
/// unfolded block by block inside the product (`bld_conv_gemm_f32`) rather than stored. The split runs along the
/// larger operand: output positions when there are at least as many as output channels (each piece reads all of
/// the packed weight and unfolds only its own columns), otherwise the output channels (each piece reads its
/// share of the weight, which is then the larger operand, and unfolds every column: a copy small beside its
/// share of the product).
private func convolutionProduct(
  plan: ConvolutionPlan, gemm: GEMMPlan, image: UnsafePointer<Float>, packedWeight: UnsafePointer<Float>,
  beta: Float, output: UnsafeMutablePointer<Float>
) {
  let (m, n, k) = (plan.outputChannels, plan.outputHeight * plan.outputWidth, plan.reduction)
  let (tileRows, tileColumns) = (gemm.tileRows, gemm.tileColumns)
  let (rowTiles, columnTiles) = ((m + tileRows - 1) / tileRows, (n + tileColumns - 1) / tileColumns)
  let bfloat16: Int32 = ComputeOptions.matrixPrecision == .bfloat16 && gemm.supportsBFloat16 ? 1 : 0
  func run(rows: Range<Int>, columns: Range<Int>) {
    GEMMScratchPool.shared.withScratch { scratch in
      withUnsafePointer(to: gemm.raw) { raw in
        bld_conv_gemm_f32(
          raw, image, plan.channels, plan.height, plan.width, plan.kernelHeight, plan.kernelWidth, plan.stride,
          plan.padding, plan.outputHeight, plan.outputWidth, m, packedWeight, rows.lowerBound, rows.upperBound,
          columns.lowerBound, columns.upperBound, beta, output, n, scratch, bfloat16)
      }
    }
  }
  if n >= m {
    parallelChunks(columnTiles, costPerItem: tileColumns * m * k, minimumWork: 1 << 20) { tiles in
      run(rows: 0..<m, columns: (tiles.lowerBound * tileColumns)..<min(n, tiles.upperBound * tileColumns))
    }
  } else {
    // One piece per thread: every row piece unfolds all the columns again.
    parallelChunks(
      rowTiles, costPerItem: tileRows * n * k, minimumWork: 1 << 20, maximumPieces: ComputeOptions.threadCount
    ) { tiles in
      run(rows: (tiles.lowerBound * tileRows)..<min(m, tiles.upperBound * tileRows), columns: 0..<n)
    }
  }
}
