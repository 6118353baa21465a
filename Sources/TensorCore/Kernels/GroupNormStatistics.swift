internal import CTensorKernels

/// The per (sample, group) statistics of a group normalisation, kept apart from the normalisation itself so a
/// backward pass can reuse them, or so they can be computed on one tensor and applied, frozen, to another
/// (for example to a crop of it).
public struct GroupNormStatistics: Sendable, Equatable {
  /// The number of groups `G`.
  public let groupCount: Int
  /// The batch size `N` the statistics were computed over.
  public let batch: Int
  /// The mean of each (sample, group), `N · G` values, in double precision.
  public let mean: [Double]
  /// `1/√(σ² + ε)` of each (sample, group) with the biased variance (PyTorch's), `N · G` values.
  public let inverseStandardDeviation: [Double]

  /// The statistics of `x` (`[N, C, ...]`, `C` divisible by `groupCount`), accumulated in double precision as
  /// `groupNorm` accumulates them.
  public init(of x: Tensor, groupCount: Int, epsilon: Float) {
    precondition(x.rank >= 2, "GroupNormStatistics expects [N, C, ...], got \(x.shape)")
    let (batch, channels) = (x.shape[0], x.shape[1])
    precondition(
      groupCount > 0 && channels % groupCount == 0, "GroupNormStatistics: \(channels) channels in \(groupCount) groups")
    let spatial = x.count / max(1, batch * channels)
    var mean = [Double](repeating: 0, count: batch * groupCount)
    var inverse = [Double](repeating: 0, count: batch * groupCount)
    x.withUnsafeBufferPointer { input in
      mean.withUnsafeMutableBufferPointer { meanBuffer in
        inverse.withUnsafeMutableBufferPointer { inverseBuffer in
          let (m, r) = (meanBuffer.baseAddress!, inverseBuffer.baseAddress!)
          forEachSampleGroup(batch: batch, groupCount: groupCount, costPerGroup: channels / groupCount * spatial * 3) {
            n, group in
            bld_group_norm_statistics_f32(
              input.baseAddress! + n * channels * spatial, channels, spatial, groupCount,
              group, group + 1, epsilon, m + n * groupCount, r + n * groupCount)
          }
        }
      }
    }
    self.groupCount = groupCount
    self.batch = batch
    self.mean = mean
    self.inverseStandardDeviation = inverse
  }

  /// Checks that `x` (`[N, C, ...]`) fits these statistics.
  func check(_ x: Tensor, _ caller: String) {
    precondition(
      x.rank >= 2 && x.shape[0] == batch && x.shape[1] % groupCount == 0,
      "\(caller): input \(x.shape) does not fit statistics of \(batch) samples in \(groupCount) groups")
  }
}

/// Group normalisation with given statistics, optionally followed by SiLU: `(x − μ)·r·γ + β` per (sample, group).
///
/// `x`: `[N, C, ...]`, `weight`, `bias`: `[C]` or nil → shape of `x`. With `GroupNormStatistics(of: x, …)` the result
/// equals `groupNorm(x, groupCount:weight:bias:epsilon:fusedSiLU:)` exactly (the same float arithmetic); with
/// statistics of another tensor it normalises `x` as that tensor was normalised.
public func groupNorm(
  _ x: Tensor, statistics: GroupNormStatistics, weight: Tensor?, bias: Tensor?, fusedSiLU: Bool = false
) -> Tensor {
  statistics.check(x, "groupNorm")
  let (batch, channels, groupCount) = (x.shape[0], x.shape[1], statistics.groupCount)
  if let weight { precondition(weight.shape == [channels], "groupNorm: weight \(weight.shape)") }
  if let bias { precondition(bias.shape == [channels], "groupNorm: bias \(bias.shape)") }
  let spatial = x.count / max(1, batch * channels)
  return Tensor(shape: x.shape) { out in
    x.withUnsafeBufferPointer { input in
      statistics.mean.withUnsafeBufferPointer { mean in
        statistics.inverseStandardDeviation.withUnsafeBufferPointer { inverse in
          withOptionalPointer(weight) { gamma in
            withOptionalPointer(bias) { beta in
              forEachSampleGroup(
                batch: batch, groupCount: groupCount, costPerGroup: channels / groupCount * spatial * 4
              ) { n, group in
                let offset = n * channels * spatial
                bld_group_norm_apply_f32(
                  input.baseAddress! + offset, out.baseAddress! + offset, channels, spatial,
                  groupCount, group, group + 1, mean.baseAddress! + n * groupCount,
                  inverse.baseAddress! + n * groupCount, gamma, beta, fusedSiLU ? 1 : 0)
              }
            }
          }
        }
      }
    }
  }
}
