import Foundation
import TensorCore

/// Euler's method on the probability-flow ODE in σ-space (Karras et al. 2022, Algorithm 2 with no churn).
///
/// Latents are variance-exploding: x = x₀ + σ ε. The model sees x / √(σ² + 1). With x̂₀ = x − σ ε̂
/// (ε-prediction) or ε̂·(−σ/√(σ²+1)) + x/(σ²+1) (v-prediction), the step is x' = x + (x − x̂₀)/σ · (σ_next − σ).
///
/// Matches: diffusers `EulerDiscreteScheduler` (`timestep_spacing` linspace (default)/leading/trailing,
/// `steps_offset`, `interpolation_type` linear, `use_karras_sigmas`, `final_sigmas_type` zero/sigma_min, ε and v
/// prediction, `s_churn` = 0), float32 operation for operation.
/// Limitations: `interpolation_type = "log_linear"`, `timestep_type = "continuous"`, exponential/beta sigmas and
/// churn (`s_churn` > 0) are not implemented.
public struct EulerDiscreteScheduler: SigmaScheduler {
  /// `"EulerDiscreteScheduler"`.
  public let name = "EulerDiscreteScheduler"
  /// The training noise schedule.
  public let schedule: NoiseSchedule
  /// How to read the model output.
  public let predictionType: PredictionType
  /// The (possibly fractional) inference timesteps, noisiest first.
  public let timesteps: [Double]
  /// σ for each step plus the final σ (`timesteps.count + 1` values, float32).
  public let sigmas: [Float]
  /// The standard deviation of pure-noise latents: max σ (linspace, trailing) or √(max σ² + 1) (leading).
  public let initNoiseSigma: Float
  /// False: Euler is deterministic.
  public var drawsNoiseInStep: Bool { false }

  /// Builds the scheduler and runs diffusers' `set_timesteps(stepCount)`.
  /// - Throws: ``SchedulerError`` for unsupported options or an invalid step count.
  public init(configuration: SchedulerConfiguration, stepCount: Int) throws(SchedulerError) {
    let name = "EulerDiscreteScheduler"
    let tables = try SigmaScheduleTables(
      configuration: configuration, stepCount: stepCount, scheduler: name, allowKarras: true)
    schedule = tables.schedule
    predictionType = try configuration.resolvedPredictionType(scheduler: name)
    timesteps = tables.timesteps
    sigmas = tables.sigmas
    initNoiseSigma = tables.initNoiseSigma
  }

  /// One Euler step from σ_i to σ_{i+1}.
  public mutating func step<Source: NoiseSource>(
    modelOutput: Tensor, stepIndex: Int, sample: Tensor, noise: inout Source
  ) -> Tensor {
    let sigma = sigmas[stepIndex]
    let predictedOriginal = eulerPredictedOriginal(
      modelOutput: modelOutput, sample: sample, sigma: sigma, predictionType: predictionType)
    let dt = sigmas[stepIndex + 1] - sigma
    return Tensor.zipped(sample, predictedOriginal) { x, x0 in x + ((x - x0) / sigma) * dt }
  }

  /// x₀ + σ ε at the level's σ (diffusers `add_noise`).
  public func addNoise(to original: Tensor, noise: Tensor, level: NoiseLevel) -> Tensor {
    let sigma = sigmas[level.sigmaIndex]
    return Tensor.zipped(original, noise) { x, n in x + n * sigma }
  }
}

extension NoiseLevel {
  /// The index into a sigma table with one entry per step plus the final one.
  var sigmaIndex: Int {
    switch self {
    case .beforeStep(let index): index
    case .afterStep(let index): index + 1
    }
  }
}

/// x̂₀ as diffusers' Euler schedulers compute it (float32 order).
func eulerPredictedOriginal(modelOutput: Tensor, sample: Tensor, sigma: Float, predictionType: PredictionType)
  -> Tensor
{
  switch predictionType {
  case .epsilon:
    return Tensor.zipped(sample, modelOutput) { x, e in x - sigma * e }
  case .vPrediction:
    let sigmaSquaredPlusOne = sigma * sigma + 1
    let outputScale = -sigma / sigmaSquaredPlusOne.squareRoot()
    return Tensor.zipped(sample, modelOutput) { x, v in v * outputScale + x / sigmaSquaredPlusOne }
  }
}

/// The timesteps and sigmas of diffusers' Euler `set_timesteps`.
struct SigmaScheduleTables {
  let schedule: NoiseSchedule
  let timesteps: [Double]
  let sigmas: [Float]
  let initNoiseSigma: Float

  init(configuration: SchedulerConfiguration, stepCount: Int, scheduler: String, allowKarras: Bool)
    throws(SchedulerError)
  {
    try configuration.rejectUnsupportedOptions(scheduler: scheduler)
    if let interpolation = configuration.interpolationType, interpolation != "linear" {
      throw .unsupported(field: "interpolation_type", value: interpolation, scheduler: scheduler)
    }
    if let type = configuration.timestepType, type != "discrete" {
      throw .unsupported(field: "timestep_type", value: type, scheduler: scheduler)
    }
    schedule = try NoiseSchedule(configuration: configuration, scheduler: scheduler)
    let trainCount = schedule.trainStepCount
    guard stepCount >= 1, stepCount <= trainCount else {
      throw .invalidStepCount(stepCount, trainTimesteps: trainCount)
    }
    let spacing = try TimestepSpacing.resolve(configuration.timestepSpacing, default: .linspace, scheduler: scheduler)
    var steps = SigmaSchedule.eulerTimesteps(
      spacing: spacing, stepCount: stepCount, trainCount: trainCount, stepsOffset: configuration.stepsOffset ?? 0)
    let trainSigmas = schedule.sigmas
    let trainSigmasDouble = trainSigmas.map(Double.init)
    var stepSigmas = steps.map { NumPy.interpolate($0, trainSigmasDouble) }
    if allowKarras && configuration.useKarrasSigmas == true {
      stepSigmas = SigmaSchedule.karras(
        sigmaMin: configuration.sigmaMin ?? stepSigmas[stepSigmas.count - 1],
        sigmaMax: configuration.sigmaMax ?? stepSigmas[0], count: stepCount)
      let logSigmas = trainSigmas.map { Foundation.log($0) }
      steps = stepSigmas.map { Double(Float(SigmaSchedule.timestep(forSigma: $0, logSigmas: logSigmas))) }
    }
    let final =
      allowKarras
      ? try SigmaSchedule.finalSigma(configuration.finalSigmasType, schedule: schedule, scheduler: scheduler) : 0
    timesteps = steps
    sigmas = stepSigmas.map { Float($0) } + [final]
    let maximum = sigmas.max() ?? 0
    initNoiseSigma = spacing == .leading ? (maximum * maximum + 1).squareRoot() : maximum
  }
}
