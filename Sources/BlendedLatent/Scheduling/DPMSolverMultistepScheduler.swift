import Foundation
import TensorCore

/// DPM-Solver++ (Lu et al. 2022) multistep, data-prediction form; 2M by default.
///
/// Latents are variance preserving: x = α x₀ + σ ε with α = 1/√(s² + 1), σ = s α for the table sigma s.
/// With λ = log α − log σ, h = λ_next − λ_i and x̂₀ the converted model output (`(x − σ ε̂)/α` or `α x − σ v̂`):
/// first order x' = (σ_next/σ_i) x − α_next (e^{−h} − 1) x̂₀; second order (midpoint) adds
/// −½ α_next (e^{−h} − 1) D₁ with D₁ = (x̂₀ − x̂₀_prev) / r, r = (λ_i − λ_{i−1}) / h (Heun:
/// + α_next ((e^{−h} − 1)/h + 1) D₁). The first step after a (re)start is first order; the last step is
/// first order when `final_sigmas_type` is zero, `euler_at_final` is set, or fewer than 15 steps run with
/// `lower_order_final`; with fewer than 15 steps the second-to-last is at most second order.
///
/// Matches: diffusers `DPMSolverMultistepScheduler` with `algorithm_type = "dpmsolver++"`, `solver_order` 1 or 2,
/// `solver_type` midpoint/heun, `timestep_spacing` linspace (default)/leading/trailing, `use_karras_sigmas`,
/// `final_sigmas_type` zero/sigma_min, `lower_order_final`, `euler_at_final`, ε and v prediction; float32 operation
/// for operation.
/// Limitations: third order, the `dpmsolver`/SDE variants, thresholding, Lu lambdas, exponential/beta/flow sigmas
/// and `lambda_min_clipped` are not implemented (typed errors).
public struct DPMSolverMultistepScheduler: Scheduler {
  /// `"DPMSolverMultistepScheduler"`.
  public let name = "DPMSolverMultistepScheduler"
  /// The training noise schedule.
  public let schedule: NoiseSchedule
  /// How to read the model output.
  public let predictionType: PredictionType
  /// The integral inference timesteps, noisiest first.
  public let integerTimesteps: [Int]
  /// s for each step plus the final one (`timesteps.count + 1` values, float32).
  public let sigmas: [Float]
  /// `solver_order` (1 or 2).
  public let solverOrder: Int
  /// `solver_type == "heun"`.
  public let usesHeun: Bool
  /// `lower_order_final`.
  public let lowerOrderFinal: Bool
  /// `euler_at_final`.
  public let eulerAtFinal: Bool
  /// Whether the final sigma is zero (`final_sigmas_type = "zero"`).
  public let finalSigmaIsZero: Bool
  private var previousModelOutput: Tensor?
  private var lowerOrderCount = 0

  /// The inference timesteps as doubles.
  public var timesteps: [Double] { integerTimesteps.map(Double.init) }
  /// 1: DPM-Solver latents are variance preserving.
  public var initNoiseSigma: Float { 1 }
  /// False: DPM-Solver++ is deterministic.
  public var drawsNoiseInStep: Bool { false }

  /// Builds the scheduler and runs diffusers' `set_timesteps(stepCount)`.
  /// - Throws: ``SchedulerError`` for unsupported options or an invalid step count.
  public init(configuration: SchedulerConfiguration, stepCount: Int) throws(SchedulerError) {
    let name = "DPMSolverMultistepScheduler"
    try configuration.rejectUnsupportedOptions(scheduler: name)
    if let algorithm = configuration.algorithmType, algorithm != "dpmsolver++" {
      throw .unsupported(field: "algorithm_type", value: algorithm, scheduler: name)
    }
    if let clipped = configuration.lambdaMinClipped, clipped != -.infinity {
      throw .unsupported(field: "lambda_min_clipped", value: "\(clipped)", scheduler: name)
    }
    solverOrder = configuration.solverOrder ?? 2
    guard solverOrder == 1 || solverOrder == 2 else {
      throw .unsupported(field: "solver_order", value: "\(solverOrder)", scheduler: name)
    }
    switch configuration.solverType ?? "midpoint" {
    case "midpoint": usesHeun = false
    case "heun": usesHeun = true
    case let other: throw .unsupported(field: "solver_type", value: other, scheduler: name)
    }
    lowerOrderFinal = configuration.lowerOrderFinal ?? true
    eulerAtFinal = configuration.eulerAtFinal ?? false
    schedule = try NoiseSchedule(configuration: configuration, scheduler: name)
    predictionType = try configuration.resolvedPredictionType(scheduler: name)
    let trainCount = schedule.trainStepCount
    guard stepCount >= 1, stepCount <= trainCount else {
      throw .invalidStepCount(stepCount, trainTimesteps: trainCount)
    }
    let offset = configuration.stepsOffset ?? 0
    let spacing = try TimestepSpacing.resolve(configuration.timestepSpacing, default: .linspace, scheduler: name)
    func timesteps(_ count: Int) -> [Int] {
      switch spacing {
      case .linspace:
        return NumPy.linspace(0, Double(trainCount - 1), count: count + 1).reversed().dropLast()
          .map { Int(NumPy.round($0)) }
      case .leading:
        let ratio = trainCount / (count + 1)
        return (1...count).reversed().map { $0 * ratio + offset }
      case .trailing:
        let ratio = Double(trainCount) / Double(count)
        return NumPy.arangeDescending(Double(trainCount), 0, step: -ratio).map { Int(NumPy.round($0)) - 1 }
      }
    }
    var steps = timesteps(stepCount)
    let trainSigmas = schedule.sigmas
    var stepSigmas: [Double]
    if configuration.useKarrasSigmas == true {
      stepSigmas = SigmaSchedule.karras(
        sigmaMin: configuration.sigmaMin ?? Double(trainSigmas[0]),
        sigmaMax: configuration.sigmaMax ?? Double(trainSigmas[trainCount - 1]), count: stepCount)
      let logSigmas = trainSigmas.map { Foundation.log($0) }
      steps = stepSigmas.map { Int(NumPy.round(SigmaSchedule.timestep(forSigma: $0, logSigmas: logSigmas))) }
    } else {
      try StepCountLimit.check(
        stepCount: stepCount, trainCount: trainCount, stepsOffset: offset, timesteps: timesteps)
      stepSigmas = steps.map { Double(trainSigmas[$0]) }
    }
    let final = try SigmaSchedule.finalSigma(configuration.finalSigmasType, schedule: schedule, scheduler: name)
    finalSigmaIsZero = final == 0
    integerTimesteps = steps
    sigmas = stepSigmas.map { Float($0) } + [final]
  }

  /// (α, σ) for a table sigma s: α = 1/√(s² + 1), σ = s α.
  static func alphaSigma(_ s: Float) -> (alpha: Float, sigma: Float) {
    let alpha = 1 / (s * s + 1).squareRoot()
    return (alpha, s * alpha)
  }

  /// Returns `sample` unchanged (DPM-Solver does not scale the model input).
  public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

  /// One multistep update (see the type); keeps the converted output for the next step.
  public mutating func step<Source: NoiseSource>(
    modelOutput: Tensor, stepIndex: Int, sample: Tensor, noise: inout Source
  ) -> Tensor {
    let count = integerTimesteps.count
    let isLast = stepIndex == count - 1
    let lowerOrderFinalStep = isLast && (eulerAtFinal || (lowerOrderFinal && count < 15) || finalSigmaIsZero)
    let (alphaS0, sigmaS0) = Self.alphaSigma(sigmas[stepIndex])
    let dataPrediction: Tensor
    switch predictionType {
    case .epsilon:
      dataPrediction = Tensor.zipped(sample, modelOutput) { x, e in (x - sigmaS0 * e) / alphaS0 }
    case .vPrediction:
      dataPrediction = Tensor.zipped(sample, modelOutput) { x, v in alphaS0 * x - sigmaS0 * v }
    }
    let (alphaT, sigmaT) = Self.alphaSigma(sigmas[stepIndex + 1])
    let lambdaT = Foundation.log(alphaT) - Foundation.log(sigmaT)
    let lambdaS0 = Foundation.log(alphaS0) - Foundation.log(sigmaS0)
    let h = lambdaT - lambdaS0
    let sampleScale = sigmaT / sigmaS0
    let outputScale = alphaT * (Foundation.exp(-h) - 1)
    let result: Tensor
    if solverOrder == 2, lowerOrderCount >= 1, !lowerOrderFinalStep, let previous = previousModelOutput {
      let (alphaS1, sigmaS1) = Self.alphaSigma(sigmas[stepIndex - 1])
      let lambdaS1 = Foundation.log(alphaS1) - Foundation.log(sigmaS1)
      let h0 = lambdaS0 - lambdaS1
      let r0 = h0 / h
      let inverseR0 = 1 / r0
      let d1Scale: Float = usesHeun ? alphaT * ((Foundation.exp(-h) - 1) / h + 1) : 0.5 * outputScale
      result = Tensor.zipped(sample, dataPrediction, previous) { x, m0, m1 in
        let d1 = inverseR0 * (m0 - m1)
        return usesHeun
          ? (sampleScale * x - outputScale * m0) + d1Scale * d1 : (sampleScale * x - outputScale * m0) - d1Scale * d1
      }
    } else {
      result = Tensor.zipped(sample, dataPrediction) { x, m in sampleScale * x - outputScale * m }
    }
    previousModelOutput = dataPrediction
    if lowerOrderCount < solverOrder { lowerOrderCount += 1 }
    return result
  }

  /// α x₀ + σ ε at the level's sigma (diffusers `add_noise`).
  public func addNoise(to original: Tensor, noise: Tensor, level: NoiseLevel) -> Tensor {
    let (alpha, sigma) = Self.alphaSigma(sigmas[level.sigmaIndex])
    return Tensor.zipped(original, noise) { x, n in alpha * x + sigma * n }
  }
}
