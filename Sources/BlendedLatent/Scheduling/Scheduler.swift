import Networks
import TensorCore

/// What the noise predictor outputs (diffusers' `prediction_type`); the model's property, defined with the networks.
public typealias PredictionType = Networks.PredictionType

/// A noise level of a scheduler's inference schedule, named by step position.
public enum NoiseLevel: Sendable, Equatable {
  /// The level of the sample that step `i` receives (`timesteps[i]`).
  case beforeStep(Int)
  /// The level of the sample that step `i` returns: DDIM's previous timestep `t − ratio` (with
  /// `final_alpha_cumprod` below 0), or `sigmas[i + 1]` for sigma-based schedulers.
  case afterStep(Int)
}

/// One denoising update rule with its inference timesteps, as a diffusers scheduler after `set_timesteps`.
///
/// Steps are addressed by their position `stepIndex` in ``timesteps`` (as diffusers' `step_index` /
/// `set_begin_index`), not by the timestep value, because sigma schedules can have fractional or repeated
/// timesteps. ``step(modelOutput:stepIndex:sample:noise:)`` must be called for consecutive indices (multistep
/// solvers keep history); it may start at any index (image-to-image strength skips the first steps).
///
/// Latents live in the scheduler's own sample space: variance-preserving (`√ᾱ x₀ + √(1−ᾱ) ε`) for DDIM and
/// DPM-Solver, variance-exploding (`x₀ + σ ε`) for Euler. ``addNoise(to:noise:level:)`` noises a clean sample
/// into that space at any level, so the blended loop works with every scheduler.
public protocol Scheduler: Sendable {
  /// The diffusers class name this scheduler matches (`"DDIMScheduler"`, …).
  var name: String { get }
  /// The training noise schedule.
  var schedule: NoiseSchedule { get }
  /// How to read the model output.
  var predictionType: PredictionType { get }
  /// The training timesteps visited, in order (noisiest first); passed to the noise predictor.
  /// Integral for DDIM and DPM-Solver; may be fractional for Euler.
  var timesteps: [Double] { get }
  /// The standard deviation of pure-noise initial latents (1 for DDIM and DPM-Solver).
  var initNoiseSigma: Float { get }
  /// Whether ``step(modelOutput:stepIndex:sample:noise:)`` draws from its noise source (DDIM with η > 0,
  /// Euler ancestral); others never draw.
  var drawsNoiseInStep: Bool { get }

  /// Scales the sample before the model sees it (Euler divides by √(σ² + 1); others return it unchanged).
  /// - Parameters:
  ///   - sample: The current latents `[N, C, h, w]`.
  ///   - stepIndex: The position of the step in ``timesteps``.
  func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor

  /// Advances the sample by one step.
  /// - Parameters:
  ///   - modelOutput: The (guided) model output for `sample`, `[N, C, h, w]`.
  ///   - stepIndex: The position of this step in ``timesteps``.
  ///   - sample: The current latents (unscaled).
  ///   - noise: Where stochastic schedulers draw their step noise (one draw of the sample's shape per step).
  /// - Returns: The latents at ``NoiseLevel/afterStep(_:)``.
  mutating func step<Source: NoiseSource>(
    modelOutput: Tensor, stepIndex: Int, sample: Tensor, noise: inout Source
  ) -> Tensor

  /// Noises a clean sample to a level of this schedule, in the scheduler's sample space.
  /// - Parameters:
  ///   - original: The clean latents x₀.
  ///   - noise: Standard normal noise of the same shape.
  ///   - level: The level.
  /// - Returns: The noisy latents.
  func addNoise(to original: Tensor, noise: Tensor, level: NoiseLevel) -> Tensor

  /// How many of ``timesteps`` an image-to-image edit of this strength runs (the last ones). The default is
  /// diffusers' img2img rule `min(int(count · strength), count)`; ``LCMScheduler`` applies the strength when it
  /// chooses its timesteps and runs all of them.
  /// - Parameter strength: The strength in (0, 1].
  func keptStepCount(strength: Double) -> Int
}

extension Scheduler {
  /// diffusers' img2img rule: `min(int(timesteps.count · strength), timesteps.count)`.
  public func keptStepCount(strength: Double) -> Int {
    min(Int(Double(timesteps.count) * strength), timesteps.count)
  }
}

/// The schedulers this package implements, for requests and the command line.
public enum SchedulerKind: Sendable, Equatable, Hashable {
  /// ``DDIMScheduler`` with the given η (0: deterministic, the paper's choice).
  case ddim(eta: Double = 0)
  /// ``DPMSolverMultistepScheduler`` (DPM-Solver++ 2M; Karras sigmas per the configuration).
  case dpmSolverMultistep
  /// ``EulerDiscreteScheduler``.
  case eulerDiscrete
  /// ``EulerAncestralDiscreteScheduler``.
  case eulerAncestralDiscrete
  /// ``LCMScheduler`` (LCM and LCM-LoRA models, 2–8 steps, guidance ≤ 1 or small).
  case lcm

  /// Parses a command-line name: `ddim`, `dpm++2m` (or `dpmsolver++`, `dpm`), `euler`, `euler-ancestral`
  /// (or `euler-a`), `lcm`, case-insensitive. DDIM gets the given η.
  /// - Parameters:
  ///   - name: The name.
  ///   - eta: η for DDIM (default 0).
  public init?(name: String, eta: Double = 0) {
    switch name.lowercased() {
    case "ddim": self = .ddim(eta: eta)
    case "dpm++2m", "dpmsolver++", "dpm", "dpmsolvermultistep": self = .dpmSolverMultistep
    case "euler", "eulerdiscrete": self = .eulerDiscrete
    case "euler-ancestral", "euler-a", "eulerancestraldiscrete": self = .eulerAncestralDiscrete
    case "lcm", "lcmscheduler": self = .lcm
    default: return nil
    }
  }

  /// The canonical command-line name (`ddim`, `dpm++2m`, `euler`, `euler-ancestral`, `lcm`).
  public var name: String {
    switch self {
    case .ddim: "ddim"
    case .dpmSolverMultistep: "dpm++2m"
    case .eulerDiscrete: "euler"
    case .eulerAncestralDiscrete: "euler-ancestral"
    case .lcm: "lcm"
    }
  }

  /// Builds the scheduler from a diffusers configuration and runs `set_timesteps(stepCount)`.
  /// - Parameters:
  ///   - configuration: The scheduler configuration.
  ///   - stepCount: The number of inference steps.
  ///   - strength: The image-to-image strength. Only ``LCMScheduler`` reads it here (its timesteps depend on it);
  ///     the others apply it through ``Scheduler/keptStepCount(strength:)``. Default 1.
  /// - Returns: The configured scheduler.
  /// - Throws: ``SchedulerError`` for unsupported or invalid settings.
  public func makeScheduler(configuration: SchedulerConfiguration, stepCount: Int, strength: Double = 1)
    throws(SchedulerError) -> any Scheduler
  {
    switch self {
    case .lcm: try LCMScheduler(configuration: configuration, stepCount: stepCount, strength: strength)
    case .ddim(let eta): try DDIMScheduler(configuration: configuration, stepCount: stepCount, eta: eta)
    case .dpmSolverMultistep: try DPMSolverMultistepScheduler(configuration: configuration, stepCount: stepCount)
    case .eulerDiscrete: try EulerDiscreteScheduler(configuration: configuration, stepCount: stepCount)
    case .eulerAncestralDiscrete:
      try EulerAncestralDiscreteScheduler(configuration: configuration, stepCount: stepCount)
    }
  }
}

extension SchedulerConfiguration {
  /// Resolves `prediction_type` (default `epsilon`).
  func resolvedPredictionType(scheduler: String) throws(SchedulerError) -> PredictionType {
    let value = predictionType ?? "epsilon"
    guard let type = PredictionType(rawValue: value) else {
      throw .unsupported(field: "prediction_type", value: value, scheduler: scheduler)
    }
    return type
  }

  /// Rejects options that change the maths in ways this package does not implement.
  func rejectUnsupportedOptions(scheduler: String) throws(SchedulerError) {
    if thresholding == true { throw .unsupported(field: "thresholding", value: "true", scheduler: scheduler) }
    for (field, value) in [
      ("use_exponential_sigmas", useExponentialSigmas), ("use_beta_sigmas", useBetaSigmas),
      ("use_lu_lambdas", useLuLambdas), ("use_flow_sigmas", useFlowSigmas),
    ] where value == true {
      throw .unsupported(field: field, value: "true", scheduler: scheduler)
    }
  }
}

/// Elementwise helpers that keep diffusers' float32 operation order.
extension Tensor {
  /// `f(a[i], b[i])` for two tensors of the same shape.
  static func zipped(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    precondition(a.shape == b.shape, "shape mismatch \(a.shape) vs \(b.shape)")
    return Tensor(shape: a.shape) { out in
      a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
          for i in 0..<out.count { out[i] = f(pa[i], pb[i]) }
        }
      }
    }
  }

  /// `f(a[i], b[i], c[i])` for three tensors of the same shape.
  static func zipped(_ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float) -> Tensor {
    precondition(a.shape == b.shape && a.shape == c.shape, "shape mismatch \(a.shape), \(b.shape), \(c.shape)")
    return Tensor(shape: a.shape) { out in
      a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
          c.withUnsafeBufferPointer { pc in
            for i in 0..<out.count { out[i] = f(pa[i], pb[i], pc[i]) }
          }
        }
      }
    }
  }
}
