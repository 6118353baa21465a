import TensorCore

/// How a pixel mask becomes a latent mask.
public enum MaskDownsampling: String, Sendable, Codable, CaseIterable {
  /// Nearest neighbour with PIL's rule (latent cell `i` samples pixel `floor((i + 0.5) · H / h)`), then the
  /// 0.5 threshold: the paper's and the reference script's choice.
  case nearest
  /// A latent cell is on if any pixel of its cell is on (≥ 0.5): keeps thin strokes alive at latent scale.
  case maxPool
}

/// A binary mask at latent resolution: 1 where the edit happens, 0 where the source is kept.
public struct LatentMask: Sendable, Equatable {
  /// The mask values `[h, w]`, each exactly 0 or 1.
  public let values: Tensor

  /// Wraps values that are already binary.
  /// - Parameter values: `[h, w]`; every element is mapped to 1 if ≥ 0.5, else 0.
  public init(values: Tensor) {
    precondition(values.rank == 2, "LatentMask expects [h, w], got \(values.shape)")
    self.values = values.map { $0 >= 0.5 ? 1 : 0 }
  }

  /// Downsamples a pixel mask to latent size.
  /// - Parameters:
  ///   - pixelMask: `[H, W]` in [0, 1] (white = edit).
  ///   - height: The latent height h.
  ///   - width: The latent width w.
  ///   - mode: ``MaskDownsampling/nearest`` (default) or ``MaskDownsampling/maxPool``.
  public init(pixelMask: Tensor, height: Int, width: Int, mode: MaskDownsampling = .nearest) {
    precondition(pixelMask.rank == 2 && height > 0 && width > 0, "LatentMask: \(pixelMask.shape) to \(height)×\(width)")
    switch mode {
    case .nearest:
      self.init(values: resizedNearest(pixelMask, height: height, width: width))
    case .maxPool:
      let (inHeight, inWidth) = (pixelMask.shape[0], pixelMask.shape[1])
      let values = Tensor(shape: [height, width]) { out in
        pixelMask.withUnsafeBufferPointer { input in
          for i in 0..<height {
            let rows = (i * inHeight / height)..<max(i * inHeight / height + 1, (i + 1) * inHeight / height)
            for j in 0..<width {
              let columns = (j * inWidth / width)..<max(j * inWidth / width + 1, (j + 1) * inWidth / width)
              var hit: Float = 0
              search: for r in rows {
                for c in columns where input[r * inWidth + c] >= 0.5 {
                  hit = 1
                  break search
                }
              }
              out[i * width + j] = hit
            }
          }
        }
      }
      self.init(values: values)
    }
  }

  /// The latent height.
  public var height: Int { values.shape[0] }
  /// The latent width.
  public var width: Int { values.shape[1] }
  /// The number of cells that are on.
  public var onCount: Int { values.scalars.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }
  /// Whether no cell is on.
  public var isEmpty: Bool { onCount == 0 }

  /// The mask dilated by a square all-ones kernel (binary dilation, border treated as 0).
  /// - Parameter kernelSize: An odd size ≥ 1.
  public func dilated(kernelSize: Int) -> LatentMask {
    LatentMask(values: TensorCore.dilated(values, kernelSize: kernelSize))
  }

  /// `m ⊙ edited + (1 − m) ⊙ background` over `[N, C, h, w]` latents (exact: each element is taken from one
  /// side).
  /// - Parameters:
  ///   - edited: The freshly denoised latents.
  ///   - background: The source latents at the same level.
  public func blend(edited: Tensor, background: Tensor) -> Tensor {
    precondition(edited.shape == background.shape, "blend: \(edited.shape) vs \(background.shape)")
    precondition(
      edited.rank == 4 && edited.shape[2] == height && edited.shape[3] == width,
      "blend: latents \(edited.shape) do not match mask \(values.shape)")
    let plane = height * width
    return Tensor(shape: edited.shape) { out in
      values.withUnsafeBufferPointer { m in
        edited.withUnsafeBufferPointer { z in
          background.withUnsafeBufferPointer { bg in
            for i in 0..<out.count {
              let weight = m[i % plane]
              out[i] = weight * z[i] + (1 - weight) * bg[i]
            }
          }
        }
      }
    }
  }
}
