/// Where a decoder fine-tune spent its time, and the activation memory its training steps planned to store.
public struct DecoderFineTuningCosts: Sendable, Equatable {
  /// Time before the first iteration: the frozen prefix (with `trainedUpBlockCount`), the whole-image group-norm
  /// statistics (crop mode) and the loss set-up; spent once per image.
  public var setup: Duration
  /// Time of each iteration: forward, backward and Adam update (and the progress handler).
  public var iterations: [Duration]
  /// Time of the final decode with the tuned weights, the composite and the final loss.
  public var final: Duration
  /// The estimated bytes of forward activations each training step stores (see
  /// `DecoderFineTuningOptions.activationMemoryBudget`).
  public var storedActivationBytes: Int
  /// The number of blocks whose activations did not fit the budget and are recomputed in each backward pass.
  public var recomputedBlockCount: Int

  /// These costs with `duration` more of final work (the composite and the final loss after the decode).
  func finished(_ duration: Duration) -> Self {
    var result = self
    result.final += duration
    return result
  }
}
