import TensorCore

/// Ancestral Euler sampling in σ-space: an Euler step down to σ_down, then fresh noise of scale σ_up.
///
/// σ_up = √(σ_next² (σ² − σ_next²) / σ²), σ_down = √(σ_next² − σ_up²);
/// x' = x + (x − x̂₀)/σ · (σ_down − σ) + σ_up z, z ~ N(0, I) from the step's noise source (one draw per step).
///
/// Matches: diffusers `EulerAncestralDiscreteScheduler` (`timestep_spacing` linspace (default)/leading/trailing,
/// `steps_offset`, ε and v prediction), float32 operation for operation; the step noise is the draw that
/// diffusers takes from the pipeline's generator.
/// Limitations: like diffusers' class, no Karras sigmas (the key is ignored) and the final σ is 0.
public struct EulerAncestralDiscreteScheduler: SigmaScheduler {
  /// `"EulerAncestralDiscreteScheduler"`.
  public let name = "EulerAncestralDiscreteScheduler"
  /// The training noise schedule.
  public let schedule: NoiseSchedule
  /// How to read the model output.
  public let predictionType: PredictionType
  /// The (possibly fractional) inference timesteps, noisiest first.
  public let timesteps: [Double]
  /// σ for each step plus the final 0 (`timesteps.count + 1` values).
  public let sigmas: [Float]
  /// max σ (linspace, trailing) or √(max σ² + 1) (leading).
  public let initNoiseSigma: Float
  /// True: each step draws noise.
  public var drawsNoiseInStep: Bool { true }

  /// Builds the scheduler and runs diffusers' `set_timesteps(stepCount)`.
  /// - Throws: ``SchedulerError`` for unsupported options or an invalid step count.
  public init(configuration: SchedulerConfiguration, stepCount: Int) throws(SchedulerError) {
    let name = "EulerAncestralDiscreteScheduler"
    let tables = try SigmaScheduleTables(
      configuration: configuration, stepCount: stepCount, scheduler: name, allowKarras: false)
    schedule = tables.schedule
    predictionType = try configuration.resolvedPredictionType(scheduler: name)
    timesteps = tables.timesteps
    sigmas = tables.sigmas
    initNoiseSigma = tables.initNoiseSigma
  }

  /// One ancestral step; draws one noise tensor of the sample's shape.
  public mutating func step<Source: NoiseSource>(
    modelOutput: Tensor, stepIndex: Int, sample: Tensor, noise: inout Source
  ) -> Tensor {
    let sigma = sigmas[stepIndex]
    let sigmaTo = sigmas[stepIndex + 1]
    let predictedOriginal = eulerPredictedOriginal(
      modelOutput: modelOutput, sample: sample, sigma: sigma, predictionType: predictionType)
    let sigmaUp = (sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo) / (sigma * sigma)).squareRoot()
    let sigmaDown = (sigmaTo * sigmaTo - sigmaUp * sigmaUp).squareRoot()
    let dt = sigmaDown - sigma
    let deterministic = Tensor.zipped(sample, predictedOriginal) { x, x0 in x + ((x - x0) / sigma) * dt }
    let z = noise.normal(shape: modelOutput.shape)
    return Tensor.zipped(deterministic, z) { x, n in x + n * sigmaUp }
  }

  /// x₀ + σ ε at the level's σ (diffusers `add_noise`).
  public func addNoise(to original: Tensor, noise: Tensor, level: NoiseLevel) -> Tensor {
    let sigma = sigmas[level.sigmaIndex]
    return Tensor.zipped(original, noise) { x, n in x + n * sigma }
  }
}
