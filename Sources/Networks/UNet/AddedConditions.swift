import TensorCore

/// SDXL's additional UNet conditioning (diffusers' `added_cond_kwargs`), one row per batch element.
public struct AddedConditions: Sendable {
  /// The pooled, projected text embedding of the second text encoder, `[N, P]` (`text_embeds`).
  public var textEmbeddings: Tensor
  /// The size and crop ids `[N, 6]`: original height and width, crop top and left, target height and width
  /// (`time_ids`).
  public var timeIDs: Tensor

  /// Creates the conditions.
  /// - Parameters:
  ///   - textEmbeddings: `[N, P]`.
  ///   - timeIDs: `[N, 6]`.
  public init(textEmbeddings: Tensor, timeIDs: Tensor) {
    self.textEmbeddings = textEmbeddings
    self.timeIDs = timeIDs
  }
}
