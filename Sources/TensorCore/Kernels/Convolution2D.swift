internal import CTensorKernels

/// The largest im2col tile, in floats (16 MiB). Convolutions never allocate more column memory than this.
let im2colWorkspaceLimit = 4 << 20

/// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) through GEMM.
///
/// `input`: `[N, C, H, W]`, `weight`: `[O, C, kH, kW]`, `bias`: `[O]` or nil →
/// `[N, O, (H + 2p − kH) / s + 1, (W + 2p − kW) / s + 1]`.
/// 1×1 stride-1 convolutions are one GEMM on the input itself; others unfold the input into a
/// column buffer tiled by output rows so it never exceeds `im2colWorkspaceLimit` floats.
public func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
  precondition(input.rank == 4 && weight.rank == 4, "conv2d: input \(input.shape), weight \(weight.shape)")
  precondition(input.shape[1] == weight.shape[1], "conv2d: input has \(input.shape[1]) channels, weight expects \(weight.shape[1])")
  let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (outputChannels, kernelHeight, kernelWidth) = (weight.shape[0], weight.shape[2], weight.shape[3])
  let outputHeight = (height + 2 * padding - kernelHeight) / stride + 1
  let outputWidth = (width + 2 * padding - kernelWidth) / stride + 1
  precondition(outputHeight > 0 && outputWidth > 0, "conv2d: kernel larger than padded input \(input.shape)")
  if let bias { precondition(bias.shape == [outputChannels], "conv2d: bias \(bias.shape) for \(outputChannels) outputs") }
  let reduction = channels * kernelHeight * kernelWidth
  let outputPlane = outputHeight * outputWidth
  let pointwise = kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0
  let rowsPerTile = max(1, min(outputHeight, im2colWorkspaceLimit / max(1, reduction * outputWidth)))
  var columns = pointwise ? [] : [Float](repeating: 0, count: reduction * rowsPerTile * outputWidth)

  return Tensor(shape: [batch, outputChannels, outputHeight, outputWidth]) { out in
    input.withUnsafeBufferPointer { x in
      weight.withUnsafeBufferPointer { w in
        for n in 0..<batch {
          let image = x.baseAddress! + n * channels * height * width
          let result = out.baseAddress! + n * outputChannels * outputPlane
          let beta: Float = bias == nil ? 0 : 1
          if let bias {
            bias.withUnsafeBufferPointer { b in
              for o in 0..<outputChannels { (result + o * outputPlane).update(repeating: b[o], count: outputPlane) }
            }
          }
          if pointwise {
            sgemm(transposeA: false, transposeB: false, m: outputChannels, n: outputPlane, k: channels,
                  a: w.baseAddress!, lda: channels, b: image, ldb: outputPlane,
                  c: result, ldc: outputPlane, beta: beta)
            continue
          }
          columns.withUnsafeMutableBufferPointer { column in
            var rowStart = 0
            while rowStart < outputHeight {
              let rowEnd = min(outputHeight, rowStart + rowsPerTile)
              let tileWidth = (rowEnd - rowStart) * outputWidth
              parallelChunks(channels, costPerItem: kernelHeight * kernelWidth * tileWidth) { range in
                bld_im2col_f32(image, channels, height, width, kernelHeight, kernelWidth, stride, padding,
                               outputWidth, rowStart, rowEnd, range.lowerBound, range.upperBound, column.baseAddress!)
              }
              sgemm(transposeA: false, transposeB: false, m: outputChannels, n: tileWidth, k: reduction,
                    a: w.baseAddress!, lda: reduction, b: column.baseAddress!, ldb: tileWidth,
                    c: result + rowStart * outputWidth, ldc: outputPlane, beta: beta)
              rowStart = rowEnd
            }
          }
        }
      }
    }
  }
}
