internal import CTensorKernels

/// Nearest-neighbour 2× upsampling of the last two axes (PyTorch `interpolate(scale_factor=2, mode="nearest")`).
/// `x`: `[..., H, W]` → `[..., 2H, 2W]`.
public func upsampleNearest2x(_ x: Tensor) -> Tensor {
  precondition(x.rank >= 2, "upsampleNearest2x expects [..., H, W], got \(x.shape)")
  let (height, width) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
  let planes = x.count / max(1, height * width)
  return Tensor(shape: Array(x.shape.dropLast(2)) + [2 * height, 2 * width]) { out in
    x.withUnsafeBufferPointer { input in
      parallelChunks(planes, costPerItem: 4 * height * width) { range in
        bld_upsample_nearest2x_f32(
          input.baseAddress!, out.baseAddress!, height, width, range.lowerBound, range.upperBound)
      }
    }
  }
}

/// Nearest-neighbour resize of the last two axes with PIL's sampling rule: output index `i` reads
/// source index `floor((i + 0.5) · inExtent / outExtent)`. `x`: `[..., H, W]` → `[..., height, width]`.
///
/// The position is evaluated exactly as Pillow's `ImagingScaleAffine` does (start at `scale / 2`, add
/// `scale = in / out` once per output index, in double), so where `(i + 0.5) · in / out` is an exact integer the
/// result still equals `Image.resize(size, Image.NEAREST)` bit for bit.
public func resizedNearest(_ x: Tensor, height: Int, width: Int) -> Tensor {
  precondition(x.rank >= 2 && height > 0 && width > 0, "resizedNearest: \(x.shape) to \(height)×\(width)")
  let (inHeight, inWidth) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
  let rows = pillowNearestIndices(inputCount: inHeight, outputCount: height)
  let columns = pillowNearestIndices(inputCount: inWidth, outputCount: width)
  let planes = x.count / max(1, inHeight * inWidth)
  return Tensor(shape: Array(x.shape.dropLast(2)) + [height, width]) { out in
    x.withUnsafeBufferPointer { input in
      for p in 0..<planes {
        for (i, row) in rows.enumerated() {
          for (j, column) in columns.enumerated() {
            out[(p * height + i) * width + j] = input[(p * inHeight + row) * inWidth + column]
          }
        }
      }
    }
  }
}

/// Source indices of Pillow's nearest-neighbour scaling along one axis.
func pillowNearestIndices(inputCount: Int, outputCount: Int) -> [Int] {
  let scale = Double(inputCount) / Double(outputCount)
  var position = scale * 0.5
  var indices = [Int](repeating: 0, count: outputCount)
  for i in 0..<outputCount {
    indices[i] = min(inputCount - 1, max(0, Int(position)))
    position += scale
  }
  return indices
}

/// Max pooling of the last two axes with a square window equal to its stride (`factor`).
/// `x`: `[..., H, W]` with `H` and `W` divisible by `factor` → `[..., H / factor, W / factor]`.
public func maxPooled(_ x: Tensor, factor: Int) -> Tensor {
  precondition(x.rank >= 2 && factor > 0, "maxPooled: \(x.shape) by \(factor)")
  let (inHeight, inWidth) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
  precondition(
    inHeight % factor == 0 && inWidth % factor == 0, "maxPooled: \(inHeight)×\(inWidth) not divisible by \(factor)")
  let (height, width) = (inHeight / factor, inWidth / factor)
  let planes = x.count / max(1, inHeight * inWidth)
  return Tensor(shape: Array(x.shape.dropLast(2)) + [height, width]) { out in
    x.withUnsafeBufferPointer { input in
      for p in 0..<planes {
        for i in 0..<height {
          for j in 0..<width {
            var maximum = -Float.infinity
            for di in 0..<factor {
              for dj in 0..<factor {
                maximum = max(maximum, input[(p * inHeight + i * factor + di) * inWidth + j * factor + dj])
              }
            }
            out[(p * height + i) * width + j] = maximum
          }
        }
      }
    }
  }
}

/// Binary dilation of the last two axes with a `size × size` all-ones kernel (odd `size`), border 0:
/// an output element is 1 where any element under the centred window is greater than 0.5, else 0.
public func dilated(_ x: Tensor, kernelSize size: Int) -> Tensor {
  precondition(x.rank >= 2 && size > 0 && size % 2 == 1, "dilated: \(x.shape) with kernel \(size)")
  let (height, width) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
  let radius = size / 2
  let planes = x.count / max(1, height * width)
  return Tensor(shape: x.shape) { out in
    x.withUnsafeBufferPointer { input in
      for p in 0..<planes {
        for i in 0..<height {
          for j in 0..<width {
            var hit: Float = 0
            search: for di in max(0, i - radius)...min(height - 1, i + radius) {
              for dj in max(0, j - radius)...min(width - 1, j + radius)
              where input[(p * height + di) * width + dj] > 0.5 {
                hit = 1
                break search
              }
            }
            out[(p * height + i) * width + j] = hit
          }
        }
      }
    }
  }
}
