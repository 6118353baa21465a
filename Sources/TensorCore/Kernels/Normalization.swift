internal import CTensorKernels

/// Group normalisation (PyTorch `nn.GroupNorm`), optionally followed by SiLU in the same pass.
///
/// `x`: `[N, C, ...]` with `C` divisible by `groupCount`; `weight`, `bias`: `[C]` or nil → shape of `x`.
/// Statistics are accumulated in double precision; the variance is the biased one, as PyTorch's.
public func groupNorm(
  _ x: Tensor, groupCount: Int, weight: Tensor?, bias: Tensor?, epsilon: Float, fusedSiLU: Bool = false
) -> Tensor {
  precondition(x.rank >= 2, "groupNorm expects [N, C, ...], got \(x.shape)")
  let (batch, channels) = (x.shape[0], x.shape[1])
  precondition(groupCount > 0 && channels % groupCount == 0, "groupNorm: \(channels) channels in \(groupCount) groups")
  if let weight { precondition(weight.shape == [channels], "groupNorm: weight \(weight.shape)") }
  if let bias { precondition(bias.shape == [channels], "groupNorm: bias \(bias.shape)") }
  let spatial = x.count / max(1, batch * channels)
  return Tensor(shape: x.shape) { out in
    x.withUnsafeBufferPointer { input in
      withOptionalPointer(weight) { gamma in
        withOptionalPointer(bias) { beta in
          forEachSampleGroup(batch: batch, groupCount: groupCount, costPerGroup: channels / groupCount * spatial * 4) {
            n, group in
            let offset = n * channels * spatial
            bld_group_norm_f32(
              input.baseAddress! + offset, out.baseAddress! + offset, channels, spatial,
              groupCount, group, group + 1, gamma, beta, epsilon, fusedSiLU ? 1 : 0)
          }
        }
      }
    }
  }
}

/// Layer normalisation over the last axis (PyTorch `nn.LayerNorm(width)`).
///
/// `x`: `[..., width]`; `weight`, `bias`: `[width]` or nil → shape of `x`.
public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
  let width = x.shape.last ?? 1
  if let weight { precondition(weight.shape == [width], "layerNorm: weight \(weight.shape) for width \(width)") }
  if let bias { precondition(bias.shape == [width], "layerNorm: bias \(bias.shape) for width \(width)") }
  let rows = x.count / max(1, width)
  return Tensor(shape: x.shape) { out in
    x.withUnsafeBufferPointer { input in
      withOptionalPointer(weight) { gamma in
        withOptionalPointer(bias) { beta in
          parallelChunks(rows, costPerItem: width * 4) { range in
            bld_layer_norm_f32(
              input.baseAddress!, out.baseAddress!, width, range.lowerBound, range.upperBound,
              gamma, beta, epsilon)
          }
        }
      }
    }
  }
}

/// Calls `body` with the tensor's base address, or nil for a nil tensor.
func withOptionalPointer<R>(_ tensor: Tensor?, _ body: (UnsafePointer<Float>?) -> R) -> R {
  guard let tensor else { return body(nil) }
  return tensor.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// Runs `body(sample, group)` for every sample of a batch and every group of a group norm, the pairs split across
/// the compute threads (`parallelChunks`, `costPerGroup` each): the loop of every group-norm kernel, whose C
/// functions take one sample's groups.
func forEachSampleGroup(batch: Int, groupCount: Int, costPerGroup: Int, _ body: (Int, Int) -> Void) {
  parallelChunks(batch * groupCount, costPerItem: costPerGroup) { range in
    for item in range { body(item / groupCount, item % groupCount) }
  }
}
