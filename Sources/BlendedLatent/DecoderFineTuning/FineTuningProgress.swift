/// The state of a decoder fine-tune after one iteration, passed to the progress handler.
public struct FineTuningProgress: Sendable, Equatable {
  /// The iteration just completed, 1-based.
  public let iteration: Int
  /// The number of iterations requested.
  public let iterationCount: Int
  /// The loss of the decoded image at this iteration, before its update, on the optimised region.
  public let loss: Float
}

/// What the decoder fine-tune should do after a progress report.
public enum FineTuningAction: Sendable, Equatable {
  /// Run the next iteration.
  case proceed
  /// Stop now; the fine-tune throws `DecoderFineTuningError.cancelled`.
  case stop
}
