import Foundation

/// The stages of an edit whose component can fail, named in ``PipelineError``.
public enum EditStage: String, Sendable, Equatable, CustomStringConvertible {
  /// Prompt encoding (``TextEncoding``).
  case textEncoding = "text encoding"
  /// Encoding the source image (``LatentAutoencoder/encodeMean(_:)``).
  case imageEncoding = "image encoding"
  /// The blended denoising loop (``NoisePredictor``).
  case denoising
  /// Decoding the results (``LatentAutoencoder/decode(_:)``).
  case decoding
  /// Background reconstruction (Poisson blending or decoder fine-tuning).
  case backgroundReconstruction = "background reconstruction"
  /// Ranking the results (``ResultRanker``).
  case ranking

  /// The stage as a phrase ("text encoding", …).
  public var description: String { rawValue }
}

/// Errors raised by an edit: bad inputs, a failing component, or cancellation.
public enum PipelineError: Error, CustomStringConvertible, LocalizedError, Sendable {
  /// The image is not `[3, H, W]`.
  case invalidImageShape([Int])
  /// The mask is not `[H, W]`.
  case invalidMaskShape([Int])
  /// The mask's size differs from the image's (and `resizeMaskToImage` is off).
  case sizeMismatch(image: [Int], mask: [Int])
  /// The image sides are not multiples of the autoencoder factor and the resize policy is `.reject`.
  case sizeNotMultiple(height: Int, width: Int, factor: Int)
  /// An input holds NaN or infinity.
  case nonFiniteInput(name: String)
  /// An input holds values outside [0, 1].
  case valueOutOfRange(name: String, minimum: Float, maximum: Float)
  /// No mask pixel is ≥ 0.5: nothing to edit.
  case emptyMask
  /// The mask vanished at latent resolution (thin strokes with `.nearest`); try `.maxPool` or shrink levels.
  case emptyLatentMask(latentHeight: Int, latentWidth: Int)
  /// A numeric parameter is outside its valid range.
  case invalidParameter(name: String, value: String, reason: String)
  /// The request asks for something the editor's components cannot do (checked before any network runs).
  case unsupported(String)
  /// The scheduler could not be built.
  case scheduler(SchedulerError)
  /// A component threw; its error is kept as a value.
  case componentFailed(EditStage, underlying: any Error)
  /// A component returned a tensor of the wrong shape.
  case componentOutput(EditStage, expected: [Int], found: [Int])
  /// A component returned NaN or infinity.
  case nonFiniteOutput(EditStage)
  /// The progress handler asked to stop, or the edit's task was cancelled, after `completed` units of `phase`
  /// (0 when it stopped before the phase began).
  case cancelled(EditPhase, completed: Int)

  /// A one-line explanation.
  public var description: String {
    switch self {
    case .invalidImageShape(let shape): "image must be [3, H, W], got \(shape)"
    case .invalidMaskShape(let shape): "mask must be [H, W], got \(shape)"
    case .sizeMismatch(let image, let mask):
      "mask size \(mask) differs from image size \(image) (set resizeMaskToImage to resize it)"
    case .sizeNotMultiple(let height, let width, let factor):
      "image size \(height)×\(width) is not a multiple of \(factor) (resize policy .reject)"
    case .nonFiniteInput(let name): "\(name) contains NaN or infinite values"
    case .valueOutOfRange(let name, let minimum, let maximum):
      "\(name) values must lie in [0, 1], found [\(minimum), \(maximum)]"
    case .emptyMask: "the mask is empty (no pixel ≥ 0.5): nothing to edit"
    case .emptyLatentMask(let height, let width):
      "the mask vanishes at latent size \(height)×\(width); use maskDownsampling .maxPool or shrink levels"
    case .invalidParameter(let name, let value, let reason): "\(name) = \(value): \(reason)"
    case .unsupported(let reason): "unsupported request: \(reason)"
    case .scheduler(let error): "scheduler: \(error)"
    case .componentFailed(let stage, let underlying): "\(stage) failed: \(underlying)"
    case .componentOutput(let stage, let expected, let found): "\(stage) returned shape \(found), expected \(expected)"
    case .nonFiniteOutput(let stage): "\(stage) produced NaN or infinite values"
    case .cancelled(let phase, let completed):
      switch phase {
      case .denoising: "cancelled after \(completed) denoising step\(completed == 1 ? "" : "s")"
      case .backgroundReconstruction:
        "cancelled after \(completed) decoder fine-tuning iteration\(completed == 1 ? "" : "s")"
      case .loading: "cancelled while loading"
      }
    }
  }

  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
