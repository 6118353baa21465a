import TensorCore

/// Progressive mask shrinking for thin masks (paper §4.3).
///
/// With `K` levels the masks are `[dilate(m, 2K+1), …, dilate(m, 5), dilate(m, 3), m]` (square all-ones kernels
/// at latent resolution, border 0). Over `S` steps, `interval = ⌊S / (K + 1)⌋ + 1` and step `i` (0-based,
/// noisiest first) uses mask `⌊i / interval⌋`. Example K = 3, S = 50: steps 0–12 use 7×7, 13–25 5×5, 26–38 3×3,
/// 39–49 the mask itself. `K = 0` is plain blending with `m`.
public struct MaskShrinking: Sendable, Equatable {
  /// The masks from widest to the mask itself (`levels + 1` of them).
  public let masks: [LatentMask]
  /// The number of steps the schedule covers.
  public let stepCount: Int

  /// Builds the schedule.
  /// - Parameters:
  ///   - mask: The latent mask m.
  ///   - levels: K ≥ 0.
  ///   - stepCount: S ≥ 1, the number of denoising steps that will run.
  public init(mask: LatentMask, levels: Int, stepCount: Int) {
    precondition(levels >= 0 && stepCount >= 1, "MaskShrinking: levels \(levels), steps \(stepCount)")
    masks = (0...levels).map { level in
      let size = 2 * (levels - level) + 1
      return size == 1 ? mask : mask.dilated(kernelSize: size)
    }
    self.stepCount = stepCount
  }

  /// The number of shrinking levels K.
  public var levels: Int { masks.count - 1 }

  /// `⌊S / (K + 1)⌋ + 1`: how many consecutive steps share one mask.
  public var interval: Int { stepCount / (levels + 1) + 1 }

  /// The index into ``masks`` for step `step` (0-based, noisiest first).
  public func maskIndex(forStep step: Int) -> Int { min(step / interval, levels) }

  /// The dilation kernel size used at step `step` (1 for the mask itself).
  public func kernelSize(forStep step: Int) -> Int { 2 * (levels - maskIndex(forStep: step)) + 1 }

  /// The mask used at step `step`.
  public func mask(forStep step: Int) -> LatentMask { masks[maskIndex(forStep: step)] }
}
