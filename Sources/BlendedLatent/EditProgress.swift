/// The long-running phases of an edit that report progress.
public enum EditPhase: String, Sendable, Equatable, CustomStringConvertible {
  /// Reading a model's weights (units: components). Reported by programs that load models, such as `bld`.
  case loading
  /// The blended denoising loop (units: steps).
  case denoising
  /// Background reconstruction by decoder fine-tuning (units: optimiser iterations, over all results).
  case backgroundReconstruction

  /// The phase as shown to people: "loading", "denoising", "background".
  public var description: String {
    switch self {
    case .loading: "loading"
    case .denoising: "denoising"
    case .backgroundReconstruction: "background"
    }
  }
}

/// Progress of an edit: one report after each denoising step or each decoder fine-tuning iteration.
///
/// The one progress vocabulary of the package: ``BlendedLatentEditor``, ``DecoderFineTuner``, ``EditingService``
/// events and the `bld` progress bar all speak it.
public struct EditProgress: Sendable {
  /// The phase reporting.
  public var phase: EditPhase
  /// Units completed so far (1 after the first step or iteration).
  public var completed: Int
  /// Units that run in the phase in total.
  public var total: Int
  /// The training timestep of the step just completed (denoising only).
  public var timestep: Double?
  /// The loss of the fine-tuning iteration just completed, before its update (background reconstruction only).
  public var loss: Float?
  /// Time spent in the phase so far.
  public var elapsed: Duration
  /// A cheap preview of the first result at latent resolution (``LatentPreview``), when previews were asked for.
  public var preview: RGBImage?

  /// Creates a progress report.
  public init(
    phase: EditPhase, completed: Int, total: Int, timestep: Double? = nil, loss: Float? = nil,
    elapsed: Duration = .zero, preview: RGBImage? = nil
  ) {
    self.phase = phase
    self.completed = completed
    self.total = total
    self.timestep = timestep
    self.loss = loss
    self.elapsed = elapsed
    self.preview = preview
  }

  /// The estimated time left in the phase, from the mean time per unit so far (`nil` before the first unit).
  public var estimatedRemaining: Duration? {
    guard completed > 0, total >= completed else { return nil }
    return elapsed / completed * (total - completed)
  }
}

/// What a progress handler wants next.
public enum ProgressAction: Sendable, Equatable {
  /// Continue with the next step or iteration.
  case proceed
  /// Stop; the edit throws ``PipelineError/cancelled(_:completed:)``.
  case stop
}

/// The handler an edit calls after every step or iteration.
public typealias ProgressHandler = (EditProgress) -> ProgressAction
