import TensorCore

/// Latent Consistency Model sampling (Luo et al. 2023), the few-step sampler of LCM and LCM-LoRA models.
///
/// Timesteps: with `k = T ÷ original_inference_steps`, the distillation schedule is
/// `(1, 2, …, int(original_inference_steps · strength)) · k − 1`, reversed; `n` of them are taken at indices
/// `floor(linspace(0, L, n, endpoint: false))` (L its length). Strength therefore moves the whole n-step
/// schedule to lower noise and every one of the n steps runs (4 steps at strength 0.75 run 739, 559, 379, 199),
/// unlike the other schedulers, which drop the first steps.
///
/// Step at timestep t with next timestep p (the following entry; none after the last step):
/// x̂₀ = (x − √(1−ᾱ_t) ε) / √ᾱ_t (ε-prediction) or √ᾱ_t x − √(1−ᾱ_t) v (v-prediction), optionally clamped;
/// with s = t · `timestep_scaling` and σ_data = 0.5, c_skip = σ_data² / (s² + σ_data²) and
/// c_out = s / √(s² + σ_data²); the consistency output is x̃₀ = c_out x̂₀ + c_skip x;
/// x_p = √ᾱ_p x̃₀ + √(1 − ᾱ_p) z with z ~ N(0, I) drawn from the step's noise source, except after the last
/// step, which returns x̃₀ itself (no draw).
///
/// Matches: diffusers `LCMScheduler` (`set_timesteps(n, strength:)` with `original_inference_steps`, `step` with
/// `timestep_scaling`, `clip_sample`, ε and v prediction, the step noise drawn from the pipeline's generator),
/// float32 operation for operation, and its defaults for missing configuration keys (`scaled_linear` betas
/// 0.00085…0.012, 50 original steps, scaling 10). `timestep_spacing` and `steps_offset` are ignored, as
/// diffusers' class ignores them.
/// Limitations: custom timestep lists, `prediction_type = "sample"`, `thresholding` and
/// `rescale_betas_zero_snr` are not implemented (typed errors for the configuration keys).
public struct LCMScheduler: Scheduler {
  /// `"LCMScheduler"`.
  public let name = "LCMScheduler"
  /// The training noise schedule.
  public let schedule: NoiseSchedule
  /// How to read the model output.
  public let predictionType: PredictionType
  /// The integral inference timesteps, noisiest first (already reflecting the strength).
  public let integerTimesteps: [Int]
  /// The strength the timesteps were chosen for (1: the full distillation schedule).
  public let strength: Double
  /// `timestep_scaling`: the factor applied to t in the boundary-condition scalings.
  public let timestepScaling: Float
  /// The clamp applied to x̂₀, when `clip_sample` is on.
  public let clipSampleRange: Float?

  /// The inference timesteps as doubles (the ``Scheduler`` requirement).
  public var timesteps: [Double] { integerTimesteps.map(Double.init) }
  /// 1: LCM latents are variance preserving.
  public var initNoiseSigma: Float { 1 }
  /// True: every step but the last draws noise.
  public var drawsNoiseInStep: Bool { true }

  /// Builds the scheduler and runs diffusers' `set_timesteps(stepCount, strength: strength)`.
  /// - Parameters:
  ///   - configuration: The diffusers scheduler configuration.
  ///   - stepCount: The number of inference steps, 1…`original_inference_steps`.
  ///   - strength: The image-to-image strength in (0, 1] (default 1); see the type's description.
  /// - Throws: ``SchedulerError`` for unsupported options, an invalid step count, or a step count larger than
  ///   `int(original_inference_steps · strength)`.
  public init(configuration: SchedulerConfiguration, stepCount: Int, strength: Double = 1) throws(SchedulerError) {
    let name = "LCMScheduler"
    try configuration.rejectUnsupportedOptions(scheduler: name)
    var resolved = configuration
    if resolved.trainedBetas == nil {
      resolved.betaStart = resolved.betaStart ?? 0.00085
      resolved.betaEnd = resolved.betaEnd ?? 0.012
      resolved.betaSchedule = resolved.betaSchedule ?? "scaled_linear"
    }
    schedule = try NoiseSchedule(configuration: resolved, scheduler: name)
    predictionType = try configuration.resolvedPredictionType(scheduler: name)
    guard strength > 0, strength <= 1 else {
      throw .invalid(field: "strength", value: "\(strength)", reason: "must lie in (0, 1]")
    }
    self.strength = strength
    timestepScaling = Float(configuration.timestepScaling ?? 10)
    clipSampleRange = (configuration.clipSample ?? false) ? Float(configuration.clipSampleRange ?? 1) : nil
    let trainCount = schedule.trainStepCount
    let originalSteps = configuration.originalInferenceSteps ?? 50
    guard originalSteps >= 1, originalSteps <= trainCount else {
      throw .invalid(
        field: "original_inference_steps", value: "\(originalSteps)", reason: "must lie in 1…\(trainCount)")
    }
    guard stepCount >= 1, stepCount <= trainCount else {
      throw .invalidStepCount(stepCount, trainTimesteps: trainCount)
    }
    let k = trainCount / originalSteps
    let distilled = Int(Double(originalSteps) * strength)
    guard distilled / stepCount >= 1, stepCount <= originalSteps else {
      throw .invalid(
        field: "steps", value: "\(stepCount)",
        reason: "LCM takes at most int(original_inference_steps × strength) = \(min(distilled, originalSteps)) steps")
    }
    let origin = (1...distilled).reversed().map { $0 * k - 1 }
    let spacing = Double(origin.count) / Double(stepCount)
    integerTimesteps = (0..<stepCount).map { origin[Int((Double($0) * spacing).rounded(.down))] }
  }

  /// ᾱ at a level: `timesteps[i]` before step i, `timesteps[i + 1]` after it, and 1 after the last step (whose
  /// output is the clean consistency estimate).
  public func alphaCumprod(at level: NoiseLevel) -> Float {
    switch level {
    case .beforeStep(let index): return schedule.alphasCumprod[integerTimesteps[index]]
    case .afterStep(let index):
      return index + 1 < integerTimesteps.count ? schedule.alphasCumprod[integerTimesteps[index + 1]] : 1
    }
  }

  /// Every step of the schedule runs: the strength already chose the timesteps.
  public func keptStepCount(strength: Double) -> Int { integerTimesteps.count }

  /// Returns `sample` unchanged (LCM does not scale the model input).
  public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

  /// One LCM step (see the type's equations); draws one noise tensor unless it is the last step.
  public mutating func step<Source: NoiseSource>(
    modelOutput: Tensor, stepIndex: Int, sample: Tensor, noise: inout Source
  ) -> Tensor {
    let timestep = integerTimesteps[stepIndex]
    let alphaProduct = schedule.alphasCumprod[timestep]
    let sqrtAlpha = alphaProduct.squareRoot()
    let sqrtBeta = (1 - alphaProduct).squareRoot()
    let scaled = Float(timestep) * timestepScaling
    let sigmaData2: Float = 0.25
    let cSkip = sigmaData2 / (scaled * scaled + sigmaData2)
    let cOut = scaled / (scaled * scaled + sigmaData2).squareRoot()
    var predictedOriginal: Tensor
    switch predictionType {
    case .epsilon:
      predictedOriginal = Tensor.zipped(sample, modelOutput) { x, e in (x - sqrtBeta * e) / sqrtAlpha }
    case .vPrediction:
      predictedOriginal = Tensor.zipped(sample, modelOutput) { x, v in sqrtAlpha * x - sqrtBeta * v }
    }
    if let range = clipSampleRange {
      predictedOriginal = predictedOriginal.map { min(max($0, -range), range) }
    }
    let denoised = Tensor.zipped(predictedOriginal, sample) { x0, x in cOut * x0 + cSkip * x }
    guard stepIndex + 1 < integerTimesteps.count else { return denoised }
    let alphaPrevious = schedule.alphasCumprod[integerTimesteps[stepIndex + 1]]
    let a = alphaPrevious.squareRoot()
    let b = (1 - alphaPrevious).squareRoot()
    let z = noise.normal(shape: modelOutput.shape)
    return Tensor.zipped(denoised, z) { x, n in a * x + b * n }
  }

  /// √ᾱ x₀ + √(1 − ᾱ) ε at the level (diffusers `add_noise`; ᾱ = 1 after the last step).
  public func addNoise(to original: Tensor, noise: Tensor, level: NoiseLevel) -> Tensor {
    let alpha = alphaCumprod(at: level)
    let a = alpha.squareRoot()
    let b = (1 - alpha).squareRoot()
    return Tensor.zipped(original, noise) { x, n in a * x + b * n }
  }
}
