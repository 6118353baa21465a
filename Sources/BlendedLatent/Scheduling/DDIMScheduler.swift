import TensorCore

/// Denoising Diffusion Implicit Models (Song et al. 2021), the paper's and the reference script's sampler.
///
/// With ᾱ_t the cumulative product at the current timestep and ᾱ_p at `p = t − T÷n` (or
/// `final_alpha_cumprod` = 1 or ᾱ₀ when p < 0):
/// x̂₀ = (x − √(1−ᾱ_t) ε) / √ᾱ_t (ε-prediction) or √ᾱ_t x − √(1−ᾱ_t) v (v-prediction), optionally clamped to
/// ±`clip_sample_range`; σ = η √((1−ᾱ_p)/(1−ᾱ_t) · (1 − ᾱ_t/ᾱ_p));
/// x_p = √ᾱ_p x̂₀ + √(1 − ᾱ_p − σ²) ε̂ + σ z, z ~ N(0, I) drawn from the step's noise source when η > 0.
///
/// Matches: diffusers `DDIMScheduler` (`set_timesteps` with `leading`/`trailing`/`linspace` spacing and
/// `steps_offset`; `step` with `eta`, `clip_sample`, `set_alpha_to_one`, ε and v prediction), float32 operation
/// for operation; its defaults for missing configuration keys (`leading`, `clip_sample` true,
/// `set_alpha_to_one` true).
/// Limitations: `prediction_type = "sample"`, `thresholding`, `use_clipped_model_output` and
/// `rescale_betas_zero_snr` are not implemented (typed errors for the configuration keys).
public struct DDIMScheduler: Scheduler {
  /// `"DDIMScheduler"`.
  public let name = "DDIMScheduler"
  /// The training noise schedule.
  public let schedule: NoiseSchedule
  /// How to read the model output.
  public let predictionType: PredictionType
  /// The integral inference timesteps, noisiest first.
  public let integerTimesteps: [Int]
  /// The stochasticity η (0: deterministic DDIM).
  public let eta: Double
  /// ᾱ used below timestep 0: 1 with `set_alpha_to_one`, else ᾱ₀.
  public let finalAlphaCumprod: Float
  /// The clamp applied to x̂₀, when `clip_sample` is on.
  public let clipSampleRange: Float?
  /// `T ÷ n`: the distance to the previous timestep.
  public let stepRatio: Int

  /// The inference timesteps as doubles (the ``Scheduler`` requirement).
  public var timesteps: [Double] { integerTimesteps.map(Double.init) }
  /// 1: DDIM latents are variance preserving.
  public var initNoiseSigma: Float { 1 }
  /// True when η > 0.
  public var drawsNoiseInStep: Bool { eta > 0 }

  /// Builds the scheduler and runs diffusers' `set_timesteps(stepCount)`.
  /// - Parameters:
  ///   - configuration: The diffusers scheduler configuration.
  ///   - stepCount: The number of inference steps, 1…`num_train_timesteps`.
  ///   - eta: η ≥ 0 (default 0).
  /// - Throws: ``SchedulerError`` for unsupported options or an invalid step count or η.
  public init(configuration: SchedulerConfiguration, stepCount: Int, eta: Double = 0) throws(SchedulerError) {
    let name = "DDIMScheduler"
    try configuration.rejectUnsupportedOptions(scheduler: name)
    schedule = try NoiseSchedule(configuration: configuration, scheduler: name)
    predictionType = try configuration.resolvedPredictionType(scheduler: name)
    guard eta >= 0, eta.isFinite else { throw .invalid(field: "eta", value: "\(eta)", reason: "must be ≥ 0") }
    self.eta = eta
    let trainCount = schedule.trainStepCount
    guard stepCount >= 1, stepCount <= trainCount else {
      throw .invalidStepCount(stepCount, trainTimesteps: trainCount)
    }
    finalAlphaCumprod = (configuration.setAlphaToOne ?? true) ? 1 : schedule.alphasCumprod[0]
    clipSampleRange = (configuration.clipSample ?? true) ? Float(configuration.clipSampleRange ?? 1) : nil
    stepRatio = trainCount / stepCount
    let offset = configuration.stepsOffset ?? 0
    let spacing = try TimestepSpacing.resolve(configuration.timestepSpacing, default: .leading, scheduler: name)
    func timesteps(_ count: Int) -> [Int] {
      switch spacing {
      case .leading:
        let ratio = trainCount / count
        return (0..<count).reversed().map { $0 * ratio + offset }
      case .trailing:
        let spacing = Double(trainCount) / Double(count)
        return NumPy.arangeDescending(Double(trainCount), 0, step: -spacing).map { Int(NumPy.round($0)) - 1 }
      case .linspace:
        return NumPy.linspace(0, Double(trainCount - 1), count: count).reversed().map { Int(NumPy.round($0)) }
      }
    }
    try StepCountLimit.check(
      stepCount: stepCount, trainCount: trainCount, stepsOffset: offset, timesteps: timesteps)
    integerTimesteps = timesteps(stepCount)
  }

  /// ᾱ at a level.
  public func alphaCumprod(at level: NoiseLevel) -> Float {
    switch level {
    case .beforeStep(let index): return schedule.alphasCumprod[integerTimesteps[index]]
    case .afterStep(let index):
      let previous = integerTimesteps[index] - stepRatio
      return previous >= 0 ? schedule.alphasCumprod[previous] : finalAlphaCumprod
    }
  }

  /// Returns `sample` unchanged (DDIM does not scale the model input).
  public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

  /// One DDIM step (see the type's equations); draws one noise tensor when η > 0.
  public mutating func step<Source: NoiseSource>(
    modelOutput: Tensor, stepIndex: Int, sample: Tensor, noise: inout Source
  ) -> Tensor {
    let alphaProduct = alphaCumprod(at: .beforeStep(stepIndex))
    let alphaProductPrevious = alphaCumprod(at: .afterStep(stepIndex))
    let betaProduct = 1 - alphaProduct
    let sqrtAlpha = alphaProduct.squareRoot()
    let sqrtBeta = betaProduct.squareRoot()
    var predictedOriginal: Tensor
    let predictedEpsilon: Tensor
    switch predictionType {
    case .epsilon:
      predictedOriginal = Tensor.zipped(sample, modelOutput) { x, e in (x - sqrtBeta * e) / sqrtAlpha }
      predictedEpsilon = modelOutput
    case .vPrediction:
      predictedOriginal = Tensor.zipped(sample, modelOutput) { x, v in sqrtAlpha * x - sqrtBeta * v }
      predictedEpsilon = Tensor.zipped(sample, modelOutput) { x, v in sqrtAlpha * v + sqrtBeta * x }
    }
    if let range = clipSampleRange {
      predictedOriginal = predictedOriginal.map { min(max($0, -range), range) }
    }
    let betaProductPrevious = 1 - alphaProductPrevious
    let variance = (betaProductPrevious / betaProduct) * (1 - alphaProduct / alphaProductPrevious)
    let standardDeviation = Float(eta) * variance.squareRoot()
    let directionScale = (1 - alphaProductPrevious - standardDeviation * standardDeviation).squareRoot()
    let sqrtAlphaPrevious = alphaProductPrevious.squareRoot()
    var previous = Tensor.zipped(predictedOriginal, predictedEpsilon) { x0, e in
      sqrtAlphaPrevious * x0 + directionScale * e
    }
    if eta > 0 {
      let z = noise.normal(shape: modelOutput.shape)
      previous = Tensor.zipped(previous, z) { x, n in x + standardDeviation * n }
    }
    return previous
  }

  /// √ᾱ x₀ + √(1 − ᾱ) ε at the level (diffusers `add_noise`, extended with `final_alpha_cumprod` after the last
  /// step).
  public func addNoise(to original: Tensor, noise: Tensor, level: NoiseLevel) -> Tensor {
    let alpha = alphaCumprod(at: level)
    let a = alpha.squareRoot()
    let b = (1 - alpha).squareRoot()
    return Tensor.zipped(original, noise) { x, n in a * x + b * n }
  }
}
