/// The long-running phases of an edit that report progress.
public enum EditPhase: String, Sendable, Equatable {
  /// The blended denoising loop (one report per step).
  case denoising
  /// Background reconstruction by decoder fine-tuning (one report per optimiser iteration).
  case backgroundOptimization
}

/// Progress of the denoising loop (after each step) or of the decoder fine-tune (after each iteration).
public struct DenoisingProgress: Sendable {
  /// The phase reporting.
  public let phase: EditPhase
  /// Steps (or iterations) completed so far (1 after the first).
  public let completedSteps: Int
  /// Steps (or iterations) that run in total.
  public let totalSteps: Int
  /// The training timestep of the step just completed (0 for background iterations).
  public let timestep: Double
  /// Seconds spent in the phase so far.
  public let elapsedSeconds: Double

  /// Creates a progress report.
  public init(
    completedSteps: Int, totalSteps: Int, timestep: Double, elapsedSeconds: Double, phase: EditPhase = .denoising
  ) {
    self.phase = phase
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
