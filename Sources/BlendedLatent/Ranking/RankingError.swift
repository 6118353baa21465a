import Foundation
import Networks

/// Why a ``CLIPRanker`` could not be loaded or could not rank a batch. Every case names the file, field,
/// image or value at fault.
public enum RankingError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The CLIP model path is not a folder.
  case notADirectory(path: String)
  /// `config.json` is missing, unreadable or unsupported.
  case configuration(ConfigurationError)
  /// The weights are missing (e.g. only `pytorch_model.bin`), malformed, or do not fit the configuration.
  case weights(WeightLoadingError)
  /// The tokenizer files are missing or malformed.
  case tokenizer(TokenizerError)
  /// The tokenizer does not fit the text tower (more ids than `vocab_size`, longer than the positions).
  case incompatibleTokenizer(directory: String, reason: String)
  /// The model cannot rank RGB images (its vision tower does not take 3 channels).
  case unsupportedModel(directory: String, reason: String)
  /// No images were given.
  case emptyBatch
  /// An image is not `[3, H, W]` with positive sides.
  case invalidImageShape(index: Int, shape: [Int])
  /// The mask is not `[H, W]` with positive sides.
  case invalidMaskShape([Int])
  /// An image's size differs from the mask's.
  case sizeMismatch(index: Int, image: [Int], mask: [Int])
  /// An input holds NaN or infinity (`name` is `"mask"` or `"image <index>"`).
  case nonFiniteInput(name: String)

  /// A one-line explanation.
  public var description: String {
    switch self {
    case .notADirectory(let path): "\(path): not a CLIP model folder"
    case .configuration(let error): "CLIP model configuration: \(error)"
    case .weights(let error): "CLIP model weights: \(error)"
    case .tokenizer(let error): "CLIP tokenizer: \(error)"
    case .incompatibleTokenizer(let directory, let reason):
      "\(directory): tokenizer and model differ: \(reason)"
    case .unsupportedModel(let directory, let reason):
      "\(directory): cannot rank with this model: \(reason)"
    case .emptyBatch: "no images to rank"
    case .invalidImageShape(let index, let shape): "image \(index) must be [3, H, W], got \(shape)"
    case .invalidMaskShape(let shape): "mask must be [H, W], got \(shape)"
    case .sizeMismatch(let index, let image, let mask):
      "image \(index) is \(image) but the mask is \(mask)"
    case .nonFiniteInput(let name): "\(name) contains NaN or infinite values"
    }
  }
}

extension RankingError: LocalizedError {
  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
