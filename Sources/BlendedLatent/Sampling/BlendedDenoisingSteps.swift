import TensorCore

/// One completed step of the blended loop.
public struct DenoisingStep: Sendable {
  /// The 0-based position among the steps that run (0 is the noisiest).
  public let index: Int
  /// How many steps run in total.
  public let count: Int
  /// The position of this step in the scheduler's full timestep list (`index + beginIndex`).
  public let schedulerStepIndex: Int
  /// The training timestep the model saw.
  public let timestep: Double
  /// The dilation kernel size of the mask used (1: the mask itself).
  public let maskKernelSize: Int
  /// The latents after the scheduler step and the blend, `[B, C, h, w]` (scaled latent space).
  public let latents: Tensor
}

/// Blended Latent Diffusion's inner loop (`Documentation/Method.md`, "Core loop"), one element per denoising step.
///
/// Order, per `Documentation/Method.md`:
/// 1. at creation: `ε₀ ~ N(0, I)` `[B, C, h, w]` is drawn first, and `z = addNoise(z_init, ε₀)` at the level of
///    the first kept step (`√ᾱ z_init + √(1−ᾱ) ε₀` for DDIM);
/// 2. each step: one model call on `2B` rows (unconditional first; `B` rows when guidance is off, g ≤ 1),
///    guidance `u + g (c − u)`, `scheduler.step`
///    (stochastic schedulers draw their step noise here); then, unless it is the last step, draw
///    `ε_i ~ N(0, I)` `[B, C, h, w]` and noise `z_init` to the level the step just reached
///    (``NoiseLevel/afterStep(_:)``: DDIM's previous timestep, with `final_alpha_cumprod` below 0); after the
///    last step the background is `z_init` itself; finally `z = m ⊙ z + (1 − m) ⊙ bg` with the mask of this
///    step (progressive shrinking when `shrinkLevels > 0`).
///
/// With an ``InpaintingConditioning`` (9-channel inpainting UNets) the start follows diffusers' inpainting
/// pipeline (see that type for its draws), the model is wrapped in an ``InpaintingNoisePredictor``, and the
/// per-step draw and blend are skipped when ``InpaintingConditioning/blends`` is off.
///
/// Iterating is the progress API; stopping early is cancellation. The model may throw: ``advance()`` rethrows;
/// the `Sequence` conformance ends the iteration instead and keeps the error in ``failure``.
public struct BlendedDenoisingSteps<Source: NoiseSource>: Sequence, IteratorProtocol {
  /// The scheduler, advanced as the loop runs.
  public private(set) var scheduler: any Scheduler
  /// The noise source (drawn in the order above).
  public private(set) var noise: Source
  /// The model (an ``InpaintingNoisePredictor`` around the given one with inpainting conditioning).
  public let predictor: any NoisePredictor
  /// Classifier-free guidance with the doubled conditioning.
  public let guidance: ClassifierFreeGuidance
  /// `z_init` repeated to the batch, `[B, C, h, w]`.
  public let sourceLatents: Tensor
  /// The mask schedule.
  public let shrinking: MaskShrinking
  /// The first scheduler step that runs (`steps − int(steps · strength)`).
  public let beginIndex: Int
  /// Whether each step blends with the noised source (always, except inpainting with blending off).
  public let blends: Bool
  /// The current latents `[B, C, h, w]`.
  public private(set) var latents: Tensor
  /// The number of completed steps.
  public private(set) var position = 0
  /// The error that ended a `for`-`in` iteration, if any.
  public private(set) var failure: (any Error)?

  /// Prepares the loop and draws `ε₀`.
  /// - Parameters:
  ///   - scheduler: A configured scheduler (after `set_timesteps`).
  ///   - predictor: The noise predictor.
  ///   - noise: The noise source; `ε₀` is drawn from it here.
  ///   - guidance: The doubled conditioning and scale.
  ///   - sourceLatents: `z_init`, `[1 or B, C, h, w]` (scaled latents of the source image).
  ///   - mask: The latent mask `[h, w]`.
  ///   - beginIndex: The first scheduler step to run, in `0 ..< scheduler.timesteps.count`.
  ///   - shrinkLevels: K for progressive mask shrinking (0: off).
  ///   - inpainting: The extra inputs of an inpainting UNet (`nil`, the default, for a latents-only model).
  public init(
    scheduler: any Scheduler, predictor: any NoisePredictor, noise: Source, guidance: ClassifierFreeGuidance,
    sourceLatents: Tensor, mask: LatentMask, beginIndex: Int, shrinkLevels: Int = 0,
    inpainting: InpaintingConditioning? = nil
  ) {
    let total = scheduler.timesteps.count
    precondition(beginIndex >= 0 && beginIndex < total, "beginIndex \(beginIndex) outside 0..<\(total)")
    precondition(sourceLatents.rank == 4, "source latents must be [N, C, h, w], got \(sourceLatents.shape)")
    let batch = guidance.batchSize
    var source = sourceLatents
    if source.shape[0] != batch {
      precondition(source.shape[0] == 1, "source latents have \(source.shape[0]) rows for batch \(batch)")
      source = Tensor.concatenated(Array(repeating: source, count: batch), axis: 0)
    }
    self.scheduler = scheduler
    self.guidance = guidance
    self.sourceLatents = source
    self.beginIndex = beginIndex
    shrinking = MaskShrinking(mask: mask, levels: shrinkLevels, stepCount: total - beginIndex)
    var noise = noise
    if let inpainting {
      func repeated(_ rows: Tensor) -> Tensor { Tensor.concatenated(Array(repeating: rows, count: batch), axis: 0) }
      let start =
        inpainting.startsFromPureNoise
        ? nil : repeated(inpainting.image.sample(noise: &noise) * inpainting.scalingFactor)
      let initialNoise = noise.normal(shape: source.shape)
      if let start {
        latents = scheduler.addNoise(to: start, noise: initialNoise, level: .beforeStep(beginIndex))
      } else {
        latents = initialNoise * scheduler.initNoiseSigma
      }
      let masked = inpainting.maskedImage.sample(noise: &noise) * inpainting.scalingFactor
      self.predictor = InpaintingNoisePredictor(base: predictor, mask: inpainting.mask, maskedImageLatents: masked)
      blends = inpainting.blends
    } else {
      let initialNoise = noise.normal(shape: source.shape)
      latents = scheduler.addNoise(to: source, noise: initialNoise, level: .beforeStep(beginIndex))
      self.predictor = predictor
      blends = true
    }
    self.noise = noise
  }

  /// The number of steps that run.
  public var count: Int { scheduler.timesteps.count - beginIndex }

  /// Runs the next step.
  /// - Returns: The step, or `nil` when all steps have run.
  /// - Throws: Whatever the predictor throws, or ``PipelineError/componentOutput(stage:expected:found:)`` when its
  ///   output has the wrong shape.
  public mutating func advance() throws -> DenoisingStep? {
    guard position < count else { return nil }
    let stepIndex = beginIndex + position
    let timestep = scheduler.timesteps[stepIndex]
    let modelInput = scheduler.scaleModelInput(latents, stepIndex: stepIndex)
    let output = try predictor.predictNoise(
      latents: guidance.modelInput(modelInput), timestep: timestep, conditioning: guidance.conditioning)
    let expected = [guidance.modelBatchSize] + Array(latents.shape.dropFirst())
    guard output.shape == expected else {
      throw PipelineError.componentOutput(.denoising, expected: expected, found: output.shape)
    }
    let guided = guidance.guided(output)
    latents = scheduler.step(modelOutput: guided, stepIndex: stepIndex, sample: latents, noise: &noise)
    if blends {
      let background: Tensor
      if position < count - 1 {
        let stepNoise = noise.normal(shape: latents.shape)
        background = scheduler.addNoise(to: sourceLatents, noise: stepNoise, level: .afterStep(stepIndex))
      } else {
        background = sourceLatents
      }
      let mask = shrinking.mask(forStep: position)
      latents = mask.blend(edited: latents, background: background)
    }
    let step = DenoisingStep(
      index: position, count: count, schedulerStepIndex: stepIndex, timestep: timestep,
      maskKernelSize: shrinking.kernelSize(forStep: position), latents: latents)
    position += 1
    return step
  }

  /// The `IteratorProtocol` requirement: ``advance()``, with a thrown error ending the iteration (see ``failure``).
  public mutating func next() -> DenoisingStep? {
    guard failure == nil else { return nil }
    do { return try advance() } catch {
      failure = error
      return nil
    }
  }
}
