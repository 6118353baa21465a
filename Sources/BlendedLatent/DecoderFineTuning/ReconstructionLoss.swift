import TensorCore

/// The paper's background-reconstruction objective (`Documentation/Method.md`, "Background reconstruction"):
/// `L(y) = MSE(y ⊙ m, x̂ ⊙ m) + λ · MSE(y ⊙ (1 − m), x ⊙ (1 − m))`.
///
/// `y` is the decoded image, `x̂` the edited image, `x` the original image and `m` the pixel mask (1 = edited
/// region). Each MSE is the mean over all `N·C·H·W` elements, the masked-out ones counting as zeros
/// (PyTorch `F.mse_loss` on the masked tensors). Images are `[N, C, H, W]`; the mask is `[N, 1, H, W]`
/// (broadcast over channels) or `[N, C, H, W]`.
public struct ReconstructionLoss: Sendable {
  /// `x̂`, the edited image (the target inside the mask).
  public let editedImage: Tensor
  /// `x`, the original image (the target outside the mask).
  public let originalImage: Tensor
  /// `m` expanded to the image shape.
  public let mask: Tensor
  /// `λ`, the weight of the background term (100 in the paper).
  public let backgroundWeight: Float

  /// Creates the objective, checking shapes.
  /// - Throws: `DecoderFineTuningError.inputShapeMismatch` naming the image or mask at fault.
  public init(editedImage: Tensor, originalImage: Tensor, mask: Tensor, backgroundWeight: Float)
    throws(DecoderFineTuningError)
  {
    guard editedImage.rank == 4 else {
      throw .inputShapeMismatch(name: "edited image", expected: "[N, C, H, W]", actual: editedImage.shape)
    }
    guard originalImage.shape == editedImage.shape else {
      throw .inputShapeMismatch(name: "original image", expected: "\(editedImage.shape)", actual: originalImage.shape)
    }
    let shape = editedImage.shape
    let (batch, channels, height, width) = (shape[0], shape[1], shape[2], shape[3])
    if mask.shape == shape {
      self.mask = mask
    } else if mask.shape == [batch, 1, height, width] {
      let plane = height * width
      self.mask = Tensor(shape: shape) { out in
        mask.withUnsafeBufferPointer { m in
          for n in 0..<batch {
            for c in 0..<channels {
              (out.baseAddress! + (n * channels + c) * plane).update(from: m.baseAddress! + n * plane, count: plane)
            }
          }
        }
      }
    } else {
      throw .inputShapeMismatch(
        name: "mask", expected: "[\(batch), 1, \(height), \(width)] or \(shape)", actual: mask.shape)
    }
    self.editedImage = editedImage
    self.originalImage = originalImage
    self.backgroundWeight = backgroundWeight
  }

  /// `L(y)`, accumulated in double precision. `output`: the image shape.
  public func value(_ output: Tensor) -> Double {
    precondition(output.shape == editedImage.shape, "loss: output \(output.shape), images \(editedImage.shape)")
    var foreground = 0.0
    var background = 0.0
    for i in 0..<output.count {
      let m = Double(mask.scalars[i])
      let y = Double(output.scalars[i])
      let inside = m * (y - Double(editedImage.scalars[i]))
      let outside = (1 - m) * (y - Double(originalImage.scalars[i]))
      foreground += inside * inside
      background += outside * outside
    }
    let count = Double(max(1, output.count))
    return foreground / count + Double(backgroundWeight) * background / count
  }

  /// `∂L/∂y = (2 / count) · (m² (y − x̂) + λ (1 − m)² (y − x))`, the image shape.
  public func gradient(_ output: Tensor) -> Tensor {
    precondition(output.shape == editedImage.shape, "loss: output \(output.shape), images \(editedImage.shape)")
    let scale = 2 / Float(max(1, output.count))
    let lambda = backgroundWeight
    return Tensor(shape: output.shape) { out in
      for i in 0..<output.count {
        let m = mask.scalars[i]
        let y = output.scalars[i]
        out[i] =
          scale * (m * m * (y - editedImage.scalars[i]) + lambda * (1 - m) * (1 - m) * (y - originalImage.scalars[i]))
      }
    }
  }
}
