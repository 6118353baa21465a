/// Progress of the denoising loop, reported after each step.
public struct DenoisingProgress: Sendable {
  /// Steps completed so far (1 after the first step).
  public let completedSteps: Int
  /// Steps that run in total.
  public let totalSteps: Int
  /// The training timestep of the step just completed.
  public let timestep: Double
  /// Seconds spent in the loop so far.
  public let elapsedSeconds: Double

  /// Creates a progress report.
  public init(completedSteps: Int, totalSteps: Int, timestep: Double, elapsedSeconds: Double) {
    self.completedSteps = completedSteps
    self.totalSteps = totalSteps
    self.timestep = timestep
    self.elapsedSeconds = elapsedSeconds
  }
}

/// What the progress handler wants next.
public enum ProgressAction: Sendable {
  /// Continue with the next step.
  case proceed
  /// Stop; the edit throws ``PipelineError/cancelled(completedSteps:)``.
  case stop
}
