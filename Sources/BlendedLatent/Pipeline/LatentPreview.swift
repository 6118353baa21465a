import TensorCore

/// A cheap preview of latents as an RGB image at latent resolution: a fixed linear map from the latent channels
/// to RGB, no decoder (AUTOMATIC1111's "Approx cheap" live preview).
///
/// `rgb = clamp((Σ_c z_c · factors[c] + 1) / 2, 0, 1)` per latent pixel, on the scaled latents the sampler
/// works on. Good enough to watch an edit take shape; not a decode.
public struct LatentPreview: Sendable, Equatable {
  /// One RGB row per latent channel.
  public var factors: [[Float]]

  /// Creates a preview from one `[r, g, b]` row per latent channel.
  public init(factors: [[Float]]) { self.factors = factors }

  /// The factors AUTOMATIC1111 uses for Stable Diffusion 1.x and 2.x latents (4 channels).
  public static let stableDiffusion = LatentPreview(factors: [
    [0.298, 0.207, 0.208],
    [0.187, 0.286, 0.173],
    [-0.158, 0.189, 0.264],
    [-0.184, -0.271, -0.473],
  ])

  /// The preview of the first batch element of `latents` `[N, C, h, w]`; `nil` when `C` is not the number of
  /// factor rows or a row is not three values.
  public func image(of latents: Tensor) -> RGBImage? {
    guard latents.rank == 4, latents.shape[0] >= 1, latents.shape[1] == factors.count,
      factors.allSatisfy({ $0.count == 3 })
    else { return nil }
    let (channels, height, width) = (latents.shape[1], latents.shape[2], latents.shape[3])
    let plane = height * width
    let rgb = Tensor(shape: [3, height, width]) { out in
      latents.withUnsafeBufferPointer { z in
        for pixel in 0..<plane {
          for colour in 0..<3 {
            var sum: Float = 0
            for channel in 0..<channels { sum += z[channel * plane + pixel] * factors[channel][colour] }
            out[colour * plane + pixel] = min(max((sum + 1) / 2, 0), 1)
          }
        }
      }
    }
    return try? RGBImage(tensor: rgb)
  }
}
