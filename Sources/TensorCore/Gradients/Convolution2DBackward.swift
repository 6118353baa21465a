internal import CTensorKernels

/// The column-buffer limit of `conv2dBackward`, in floats (32 MiB): larger tiles than the forward's
/// because the weight gradient's GEMM reduces over the tile width.
let convolutionBackwardWorkspaceLimit = 8 << 20

/// The gradients of `conv2d` with respect to its input, weight and bias.
public struct Conv2DGradients: Sendable {
  /// `∂L/∂input`, `[N, C, H, W]`; nil when it was not requested.
  public var input: Tensor?
  /// `∂L/∂weight`, `[O, C, kH, kW]`.
  public var weight: Tensor
  /// `∂L/∂bias`, `[O]`.
  public var bias: Tensor
}

/// The backward pass of `conv2d(input, weight:, bias:, stride:, padding:)`.
///
/// `outputGradient`: `[N, O, H', W']` (the shape `conv2d` returned), `input`: `[N, C, H, W]`,
/// `weight`: `[O, C, kH, kW]`. Per image and per tile of output rows the input is unfolded (im2col) once and
/// two large GEMMs run: `∂W += ∂Y_tile · colᵀ` and `col' = Wᵀ · ∂Y_tile`, whose columns are folded back
/// (col2im) into `∂X`. 1×1 stride-1 convolutions use the input directly. Column memory stays below
/// `convolutionBackwardWorkspaceLimit` floats. With `computeInputGradient: false` the `Wᵀ · ∂Y` GEMM is
/// skipped (used for the first layer of a network whose input is fixed).
///
/// 3×3 stride-1 padding-1 convolutions large enough for Winograd (`conv2d3x3WinogradIsPreferred`) run both
/// gradients through Winograd instead (`conv2d3x3WinogradBackward`, the tile from `WinogradTile.preferred`;
/// ≈ 1e-5 relative error, as the forward).
public func conv2dBackward(
  outputGradient: Tensor, input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0,
  computeInputGradient: Bool = true
) -> Conv2DGradients {
  precondition(
    input.rank == 4 && weight.rank == 4 && outputGradient.rank == 4,
    "conv2dBackward: input \(input.shape), weight \(weight.shape), gradient \(outputGradient.shape)")
  let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (outputChannels, kernelHeight, kernelWidth) = (weight.shape[0], weight.shape[2], weight.shape[3])
  precondition(weight.shape[1] == channels, "conv2dBackward: input has \(channels) channels, weight \(weight.shape)")
  let outputHeight = (height + 2 * padding - kernelHeight) / stride + 1
  let outputWidth = (width + 2 * padding - kernelWidth) / stride + 1
  precondition(
    outputGradient.shape == [batch, outputChannels, outputHeight, outputWidth],
    "conv2dBackward: gradient \(outputGradient.shape), expected \([batch, outputChannels, outputHeight, outputWidth])")
  let reduction = channels * kernelHeight * kernelWidth
  let outputPlane = outputHeight * outputWidth
  let inputImage = channels * height * width
  let pointwise = kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0

  if conv2d3x3WinogradIsPreferred(inputShape: input.shape, weightShape: weight.shape, stride: stride, padding: padding)
  {
    let tile = WinogradTile.preferredForGradients(
      batch: batch, height: height, width: width, inputChannels: channels, outputChannels: outputChannels)
    return conv2d3x3WinogradBackward(
      outputGradient: outputGradient, input: input, weight: weight, tile: tile,
      computeInputGradient: computeInputGradient)
  }
  let biasGradient = Tensor(shape: [outputChannels]) { out in
    outputGradient.withUnsafeBufferPointer { dy in
      nonisolated(unsafe) let result = out.baseAddress!
      parallelChunks(outputChannels, costPerItem: batch * outputPlane) { range in
        for o in range {
          var total = 0.0
          for n in 0..<batch {
            total += bld_sum_f32(dy.baseAddress! + (n * outputChannels + o) * outputPlane, outputPlane, 0, 0)
          }
          result[o] = Float(total)
        }
      }
    }
  }
  let rowsPerTile = max(1, min(outputHeight, convolutionBackwardWorkspaceLimit / max(1, reduction * outputWidth)))
  var columns = pointwise ? [] : [Float](repeating: 0, count: reduction * rowsPerTile * outputWidth)
  var weightGradient = Tensor(shape: weight.shape, repeating: 0)
  var inputGradient = computeInputGradient ? Tensor(shape: input.shape, repeating: 0) : nil

  outputGradient.withUnsafeBufferPointer { dy in
    input.withUnsafeBufferPointer { x in
      weight.withUnsafeBufferPointer { w in
        weightGradient.withUnsafeMutableBufferPointer { dw in
          withOptionalMutablePointer(&inputGradient) { dx in
            for n in 0..<batch {
              let image = x.baseAddress! + n * inputImage
              let gradient = dy.baseAddress! + n * outputChannels * outputPlane
              if pointwise {
                // ∂W[O, C] += ∂Y[O, HW] · X[C, HW]ᵀ;  ∂X[C, HW] = Wᵀ[C, O] · ∂Y[O, HW]
                sgemm(
                  transposeA: false, transposeB: true, m: outputChannels, n: channels, k: outputPlane,
                  a: gradient, lda: outputPlane, b: image, ldb: outputPlane,
                  c: dw.baseAddress!, ldc: channels, beta: 1)
                if let dx {
                  sgemm(
                    transposeA: true, transposeB: false, m: channels, n: outputPlane, k: outputChannels,
                    a: w.baseAddress!, lda: channels, b: gradient, ldb: outputPlane,
                    c: dx + n * inputImage, ldc: outputPlane, beta: 0)
                }
                continue
              }
              columns.withUnsafeMutableBufferPointer { column in
                let columnBase = column.baseAddress!
                var rowStart = 0
                while rowStart < outputHeight {
                  let rowEnd = min(outputHeight, rowStart + rowsPerTile)
                  let tileWidth = (rowEnd - rowStart) * outputWidth
                  let start = rowStart
                  parallelChunks(channels, costPerItem: kernelHeight * kernelWidth * tileWidth) { range in
                    bld_im2col_f32(
                      image, channels, height, width, kernelHeight, kernelWidth, stride, padding,
                      outputWidth, start, rowEnd, range.lowerBound, range.upperBound, columnBase)
                  }
                  // ∂W[O, CkHkW] += ∂Y_tile[O, tile] · col[CkHkW, tile]ᵀ
                  sgemm(
                    transposeA: false, transposeB: true, m: outputChannels, n: reduction, k: tileWidth,
                    a: gradient + rowStart * outputWidth, lda: outputPlane, b: columnBase, ldb: tileWidth,
                    c: dw.baseAddress!, ldc: reduction, beta: 1)
                  if let dx {
                    // col'[CkHkW, tile] = W[O, CkHkW]ᵀ · ∂Y_tile[O, tile], then folded back into ∂X.
                    sgemm(
                      transposeA: true, transposeB: false, m: reduction, n: tileWidth, k: outputChannels,
                      a: w.baseAddress!, lda: reduction, b: gradient + rowStart * outputWidth, ldb: outputPlane,
                      c: columnBase, ldc: tileWidth, beta: 0)
                    let target = dx + n * inputImage
                    parallelChunks(channels, costPerItem: kernelHeight * kernelWidth * tileWidth) { range in
                      bld_col2im_accumulate_f32(
                        columnBase, channels, height, width, kernelHeight, kernelWidth,
                        stride, padding, outputWidth, start, rowEnd,
                        range.lowerBound, range.upperBound, target)
                    }
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
  return Conv2DGradients(input: inputGradient, weight: weightGradient, bias: biasGradient)
}

/// The backward pass of a convolution of `upsampleNearest2x(input)` (diffusers' `Upsample2D`), `input`
/// `[N, C, H, W]`, `outputGradient` the shape the convolution of the `[N, C, 2H, 2W]` image returned: the gradients
/// of `conv2dBackward(outputGradient:input:weight:…)` on the upsampled image, with `∂L/∂input`
/// (`[N, C, H, W]`) its 2×2 block sums. Where Winograd takes the backward, neither the upsampled image nor its
/// gradient is stored: where F(6×6) would take the upsampled image, the sub-pixel form takes the stored one
/// (`conv2d3x3WinogradUpsamplingBackward`, as the forward `conv2dPreferringWinograd` does; measured on Zen 4, 2
/// threads, all three gradients, 256 channels 256² → 512² 0.82–0.83 → 0.66–0.71 s, 512 channels 128² → 256²
/// 0.78–0.83 → 0.70–0.72 s), otherwise
/// `conv2d3x3WinogradBackward(…, inputUpsampled: true)` (the same results bit for bit as through those tensors);
/// elsewhere through those tensors.
package func conv2dBackward(
  outputGradient: Tensor, upsampledInput input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0,
  computeInputGradient: Bool = true
) -> Conv2DGradients {
  precondition(input.rank == 4, "conv2dBackward: input \(input.shape) is not [N, C, H, W]")
  let imageShape = [input.shape[0], input.shape[1], 2 * input.shape[2], 2 * input.shape[3]]
  if conv2d3x3WinogradIsPreferred(inputShape: imageShape, weightShape: weight.shape, stride: stride, padding: padding) {
    let tile = WinogradTile.preferred(
      batch: imageShape[0], height: imageShape[2], width: imageShape[3], inputChannels: imageShape[1],
      outputChannels: weight.shape[0])
    if tile == .six {
      return conv2d3x3WinogradUpsamplingBackward(
        outputGradient: outputGradient, input: input, weight: weight, computeInputGradient: computeInputGradient)
    }
    return conv2d3x3WinogradBackward(
      outputGradient: outputGradient, input: input, weight: weight, tile: tile,
      computeInputGradient: computeInputGradient, inputUpsampled: true)
  }
  var gradients = conv2dBackward(
    outputGradient: outputGradient, input: upsampleNearest2x(input), weight: weight, stride: stride,
    padding: padding, computeInputGradient: computeInputGradient)
  gradients.input = gradients.input.map { upsampleNearest2xBackward(outputGradient: $0) }
  return gradients
}

/// `W'[c, o, kh, kw] = W[o, c, kH − 1 − kh, kW − 1 − kw]` for `W`: `[O, C, kH, kW]`: the kernel whose stride-1
/// convolution (padding `kH − 1 − p`) maps a convolution's output gradient to its input gradient.
func flippedTransposedKernel(_ weight: Tensor) -> Tensor {
  let (outputs, inputs, height, width) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
  let plane = height * width
  // Blocks of `side` × `side` (o, c) pairs: each block reads `side` whole kernels of `side` rows of W and writes
  // `side` whole kernels of `side` rows of W', so both sides move whole cache lines. Threads take rows of blocks.
  let side = 16
  return Tensor(shape: [inputs, outputs, height, width]) { out in
    nonisolated(unsafe) let target = out.baseAddress!
    weight.withUnsafeBufferPointer { w in
      nonisolated(unsafe) let source = w.baseAddress!
      parallelChunks((inputs + side - 1) / side, costPerItem: side * outputs * plane) { blocks in
        for c0 in stride(from: blocks.lowerBound * side, to: min(inputs, blocks.upperBound * side), by: side) {
          for o0 in stride(from: 0, to: outputs, by: side) {
            for c in c0..<min(inputs, c0 + side) {
              for o in o0..<min(outputs, o0 + side) {
                let from = source + (o * inputs + c) * plane
                let to = target + (c * outputs + o) * plane
                for k in 0..<plane { to[k] = from[plane - 1 - k] }
              }
            }
          }
        }
      }
    }
  }
}

/// Calls `body` with the tensor's mutable base address, or nil for a nil tensor.
func withOptionalMutablePointer<R>(_ tensor: inout Tensor?, _ body: (UnsafeMutablePointer<Float>?) -> R) -> R {
  guard tensor != nil else { return body(nil) }
  return tensor!.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}
