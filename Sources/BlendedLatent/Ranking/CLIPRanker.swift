import Foundation
import Networks
import TensorCore

/// Ranks edit results by the paper's masked-image CLIP distance (§4.4, `Documentation/Method.md` "Several results and
/// ranking"): each result is multiplied by the pixel mask (background black), resized as a whole to the
/// vision tower's `image_size` (bicubic, antialiased), CLIP-normalised and embedded; the score is the cosine
/// distance `1 − cos` to the prompt's text embedding, and results are ranked by ascending distance.
///
/// Matches: transformers 5 `CLIPModel.get_image_features` / `get_text_features` on
/// `(F.interpolate(image · mask, size, mode="bicubic", antialias=True) − mean) / std` and the prompt's ids
/// (`padding="max_length"`, truncated to the tokenizer's length), then `1 − F.cosine_similarity`
/// (`Tests/Reference/make_ranking_fixtures.py`).
///
/// Non-square images: the paper's are square. A `H × W` image with `H ≠ W` is, after masking, padded with
/// black to a centred `max(H, W)` square (`⌊(S − H) / 2⌋` rows on top, `⌊(S − W) / 2⌋` columns on the
/// left), so the edited object keeps its aspect ratio and nothing is cropped; the padding is black like the
/// masked-out background. Square images are not padded. (Tested against torch on square, upscaled and
/// non-square inputs: `Tests/Reference/make_ranking_resize_fixtures.py`.)
///
/// Limitations: the normalisation constants are OpenAI CLIP's (``imageMean``, ``imageStd``), whatever a
/// `preprocessor_config.json` says; image values are expected in [0, 1] but not checked.
public final class CLIPRanker: ResultRanker, Sendable {
  /// The CLIP model (both towers and projections).
  public let model: CLIPModel
  /// The prompt tokenizer.
  public let tokenizer: CLIPTokenizer

  /// OpenAI CLIP's per-channel mean (RGB) used for normalisation.
  public static let imageMean: [Float] = [0.48145466, 0.4578275, 0.40821073]
  /// OpenAI CLIP's per-channel standard deviation (RGB) used for normalisation.
  public static let imageStd: [Float] = [0.26862954, 0.26130258, 0.27577711]

  /// Wraps a loaded model and tokenizer.
  /// - Parameters:
  ///   - model: the CLIP model.
  ///   - tokenizer: its tokenizer.
  ///   - source: the name used in errors (a folder path).
  /// - Throws: ``RankingError/incompatibleTokenizer(directory:reason:)`` when the tokenizer has more ids
  ///   than the text `vocab_size` or is longer than `max_position_embeddings`;
  ///   ``RankingError/unsupportedModel(directory:reason:)`` when the vision tower does not take 3 channels.
  public init(model: CLIPModel, tokenizer: CLIPTokenizer, source: String = "CLIP model")
    throws(RankingError)
  {
    let text = model.configuration.textConfiguration
    guard tokenizer.vocabularySize <= text.vocabSize else {
      throw .incompatibleTokenizer(
        directory: source,
        reason:
          "the tokenizer has \(tokenizer.vocabularySize) ids, text_config.vocab_size is \(text.vocabSize)"
      )
    }
    guard tokenizer.maxLength <= text.maxPositionEmbeddings else {
      throw .incompatibleTokenizer(
        directory: source,
        reason:
          "model_max_length \(tokenizer.maxLength) exceeds text_config.max_position_embeddings \(text.maxPositionEmbeddings)"
      )
    }
    let channels = model.configuration.visionConfiguration.numChannels
    guard channels == 3 else {
      throw .unsupportedModel(
        directory: source, reason: "vision_config.num_channels is \(channels), RGB needs 3")
    }
    self.model = model
    self.tokenizer = tokenizer
  }

  /// Loads a transformers `CLIPModel` folder (for example `openai/clip-vit-base-patch16`): `config.json`,
  /// `model.safetensors` (F32/F16/BF16, possibly sharded or the `fp16` variant; see
  /// `CLIPModel.init(directory:)`) and the tokenizer files in the same folder (`vocab.json` + `merges.txt`
  /// or `tokenizer.json`, with `tokenizer_config.json` / `special_tokens_map.json`; a `tokenizer/` subfolder
  /// is used when the folder itself has neither).
  /// - Parameter directory: the folder.
  /// - Throws: ``RankingError`` naming the folder, file and field at fault.
  public convenience init(directory: URL) throws(RankingError) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    else { throw .notADirectory(path: directory.path) }
    let model: CLIPModel
    do {
      model = try CLIPModel(directory: directory)
    } catch let error as ConfigurationError {
      throw .configuration(error)
    } catch let error as WeightLoadingError {
      throw .weights(error)
    } catch {
      throw .configuration(.unreadable(file: directory.path, reason: "\(error)"))
    }
    let tokenizer: CLIPTokenizer
    do {
      tokenizer = try CLIPTokenizer(directory: Self.tokenizerDirectory(in: directory))
    } catch {
      throw .tokenizer(error)
    }
    try self.init(model: model, tokenizer: tokenizer, source: directory.path)
  }

  /// The folder holding the tokenizer files: `directory`, or `directory/tokenizer` when only that has them.
  static func tokenizerDirectory(in directory: URL) -> URL {
    let fileManager = FileManager.default
    let hasFiles = { (folder: URL) in
      ["vocab.json", "tokenizer.json"].contains {
        fileManager.fileExists(atPath: folder.appendingPathComponent($0).path)
      }
    }
    let subfolder = directory.appendingPathComponent("tokenizer", isDirectory: true)
    return !hasFiles(directory) && hasFiles(subfolder) ? subfolder : directory
  }

  /// The vision tower's input side (`vision_config.image_size`).
  public var imageSize: Int { model.configuration.visionConfiguration.imageSize }

  /// The masked, squared and resized batch, before normalisation: `image · mask`, padded with black to a
  /// centred square when `H ≠ W`, resized to `image_size` with the antialiased bicubic filter.
  /// - Parameters:
  ///   - images: `B ≥ 1` images `[3, H, W]`.
  ///   - mask: `[H, W]`.
  /// - Returns: `[B, 3, image_size, image_size]`.
  /// - Throws: ``RankingError`` for an empty batch, wrong shapes, sizes that differ from the mask's, or
  ///   non-finite values.
  public func preprocessed(images: [Tensor], mask: Tensor) throws(RankingError) -> Tensor {
    try Self.check(images: images, mask: mask)
    let (height, width) = (mask.shape[0], mask.shape[1])
    let side = max(height, width)
    let (top, left) = ((side - height) / 2, (side - width) / 2)
    let squares = images.map { image in
      Tensor(shape: [3, side, side]) { out in
        out.update(repeating: 0)
        image.withUnsafeBufferPointer { pixels in
          mask.withUnsafeBufferPointer { weights in
            for channel in 0..<3 {
              for i in 0..<height {
                for j in 0..<width {
                  out[(channel * side + top + i) * side + left + j] =
                    pixels[(channel * height + i) * width + j] * weights[i * width + j]
                }
              }
            }
          }
        }
      }
    }
    let batch = Tensor.concatenated(squares, axis: 0).reshaped([images.count, 3, side, side])
    // PIL's antialiased bicubic = torch `interpolate(mode="bicubic", antialias=True, align_corners=False)`.
    return resampled(batch, height: imageSize, width: imageSize, filter: .bicubic)
  }

  /// CLIP normalisation `(x − mean) / std` per channel.
  /// - Parameter pixels: `[B, 3, S, S]` in [0, 1].
  /// - Returns: the normalised tensor, same shape.
  public static func normalized(_ pixels: Tensor) -> Tensor {
    let mean = Tensor(shape: [1, 3, 1, 1], scalars: imageMean)
    let scale = Tensor(shape: [1, 3, 1, 1], scalars: imageStd.map { 1 / $0 })
    return (pixels - mean) * scale
  }

  /// The image embeddings of the masked results (``preprocessed(images:mask:)``, normalised, embedded).
  /// - Parameters:
  ///   - images: `B ≥ 1` images `[3, H, W]`.
  ///   - mask: `[H, W]`.
  /// - Returns: `[B, projection_dim]`, not normalised.
  /// - Throws: ``RankingError`` for invalid inputs.
  public func imageEmbeddings(images: [Tensor], mask: Tensor) throws(RankingError) -> Tensor {
    model.imageFeatures(Self.normalized(try preprocessed(images: images, mask: mask)))
  }

  /// The prompt's token ids (padded to the tokenizer's length, truncated if longer) and text embedding.
  /// - Parameter prompt: the prompt.
  /// - Returns: the tokens (`TokenizedText.wasTruncated` tells whether it was cut) and `[1, projection_dim]`.
  public func textEmbedding(for prompt: String) -> (tokens: TokenizedText, embedding: Tensor) {
    let tokens = tokenizer.encode(prompt)
    return (tokens, model.textFeatures([tokens.ids]))
  }

  /// The cosine distance `1 − cos` of each masked result to the prompt.
  /// - Parameters:
  ///   - images: `B ≥ 1` images `[3, H, W]` in [0, 1].
  ///   - mask: `[H, W]`.
  ///   - prompt: the prompt.
  /// - Returns: `B` distances in [0, 2], in batch order.
  /// - Throws: ``RankingError`` for invalid inputs.
  public func distances(images: [Tensor], mask: Tensor, prompt: String) throws(RankingError)
    -> [Float]
  {
    let imageFeatures = try imageEmbeddings(images: images, mask: mask)
    let textFeatures = textEmbedding(for: prompt).embedding
    return Self.cosineDistances(imageFeatures, to: textFeatures)
  }

  /// The batch ranked by ascending distance to the prompt (ties in batch order).
  /// - Parameters:
  ///   - images: `B ≥ 1` images `[3, H, W]` in [0, 1].
  ///   - mask: `[H, W]`.
  ///   - prompt: the prompt.
  /// - Returns: `B` entries, best (smallest distance) first.
  /// - Throws: ``RankingError`` for invalid inputs.
  public func rank(images: [Tensor], mask: Tensor, prompt: String) throws(RankingError)
    -> [RankedResult]
  {
    RankedResult.ascending(try distances(images: images, mask: mask, prompt: prompt))
  }

  /// ``ResultRanker`` conformance: the distances of ``distances(images:mask:prompt:)``.
  /// - Throws: ``RankingError``.
  public func scores(images: [Tensor], mask: Tensor, prompt: String) throws -> [Float] {
    try distances(images: images, mask: mask, prompt: prompt)
  }

  /// `1 − cos(rows[i], reference)` for each row, in double precision; a zero vector has cosine 0.
  /// - Parameters:
  ///   - rows: `[B, P]`.
  ///   - reference: `[1, P]` or `[P]`.
  /// - Returns: `B` distances.
  public static func cosineDistances(_ rows: Tensor, to reference: Tensor) -> [Float] {
    precondition(
      rows.rank == 2 && reference.count == rows.shape[1],
      "cosineDistances: \(rows.shape), \(reference.shape)")
    let width = rows.shape[1]
    let target = reference.scalars.map(Double.init)
    let targetNorm = target.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return (0..<rows.shape[0]).map { row in
      var dot = 0.0
      var squared = 0.0
      for k in 0..<width {
        let value = Double(rows.scalars[row * width + k])
        dot += value * target[k]
        squared += value * value
      }
      return Float(1 - dot / max(squared.squareRoot() * targetNorm, 1e-8))
    }
  }

  static func check(images: [Tensor], mask: Tensor) throws(RankingError) {
    guard !images.isEmpty else { throw .emptyBatch }
    guard mask.rank == 2, mask.shape.allSatisfy({ $0 > 0 }) else {
      throw .invalidMaskShape(mask.shape)
    }
    guard mask.isFinite else { throw .nonFiniteInput(name: "mask") }
    for (index, image) in images.enumerated() {
      guard image.rank == 3, image.shape[0] == 3, image.shape[1] > 0, image.shape[2] > 0 else {
        throw .invalidImageShape(index: index, shape: image.shape)
      }
      guard Array(image.shape.dropFirst()) == mask.shape else {
        throw .sizeMismatch(index: index, image: Array(image.shape.dropFirst()), mask: mask.shape)
      }
      guard image.isFinite else { throw .nonFiniteInput(name: "image \(index)") }
    }
  }
}
