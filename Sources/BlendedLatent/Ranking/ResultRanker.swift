import TensorCore

/// Scores a batch of edit results against the prompt, lower is better; ``BlendedLatentEditor`` orders its
/// results by these scores when it has a ranker (paper §4.4: generate several results, keep the best).
public protocol ResultRanker: Sendable {
  /// One score per image, lower is better (for ``CLIPRanker``: the masked-image CLIP cosine distance).
  /// - Parameters:
  ///   - images: the results, each `[3, H, W]` RGB in [0, 1].
  ///   - mask: the pixel mask `[H, W]` in [0, 1] (1 = edited region).
  ///   - prompt: the edit prompt.
  /// - Returns: `images.count` finite scores, in the order of `images`.
  /// - Throws: the conformer's own errors.
  func scores(images: [Tensor], mask: Tensor, prompt: String) throws -> [Float]
}

/// One image of a ranked batch.
public struct RankedResult: Sendable, Equatable {
  /// The image's position in the batch that was ranked.
  public var index: Int
  /// Its score: the cosine distance `1 − cos(image embedding, text embedding)`, lower is better.
  public var distance: Float

  /// Creates a ranked entry.
  /// - Parameters:
  ///   - index: the position in the ranked batch.
  ///   - distance: the score.
  public init(index: Int, distance: Float) {
    self.index = index
    self.distance = distance
  }
}

extension ResultRanker {
  /// The batch ranked by ascending score; equal scores keep batch order.
  /// - Parameters:
  ///   - images: the results, each `[3, H, W]` RGB in [0, 1].
  ///   - mask: the pixel mask `[H, W]`.
  ///   - prompt: the edit prompt.
  /// - Returns: one entry per image, best first.
  /// - Throws: whatever ``scores(images:mask:prompt:)`` throws.
  public func rank(images: [Tensor], mask: Tensor, prompt: String) throws -> [RankedResult] {
    let scores = try scores(images: images, mask: mask, prompt: prompt)
    return RankedResult.ascending(scores)
  }
}

extension RankedResult {
  /// Entries for `scores` sorted by ascending score, ties in index order.
  /// - Parameter scores: one score per batch position.
  /// - Returns: the sorted entries.
  public static func ascending(_ scores: [Float]) -> [RankedResult] {
    scores.enumerated().map { RankedResult(index: $0.offset, distance: $0.element) }
      .sorted { ($0.distance, $0.index) < ($1.distance, $1.index) }
  }
}
