import Networks
import TensorCore

/// Local text-driven image editing with Blended Latent Diffusion, over protocol-typed components.
///
/// `edit` runs: input checks → padding to the autoencoder factor → prompt encoding (`[negative, prompt]`) →
/// `z_init = scalingFactor · mean(E(2x − 1))` → latent mask → ``BlendedDenoisingSteps`` → decode each result
/// (`D(z / scalingFactor)`, clamped to [-1, 1], mapped to [0, 1]) → crop → background mode → ranking (when a
/// ``ranker`` is set: results scored and reordered best first).
///
/// An editor is a `Sendable` value: `edit` is synchronous and may run on any thread, several at once (the
/// components only read their weights). To own a model in an actor, run edits one at a time, cancel them with
/// their `Task` and stream their progress, use ``EditingService``.
public struct BlendedLatentEditor: Sendable {
  /// The prompt encoder.
  public let textEncoder: any TextEncoding
  /// The VAE.
  public let autoencoder: any LatentAutoencoder
  /// The UNet.
  public let noisePredictor: any NoisePredictor
  /// The model's scheduler configuration (`scheduler/scheduler_config.json`).
  public var schedulerConfiguration: SchedulerConfiguration
  /// Optional ranking of the batch (paper §4.4, e.g. ``CLIPRanker``): when set, `edit` scores the results with
  /// the request's pixel mask and prompt and returns them best (lowest score) first, filling
  /// ``EditResult/scores`` and ``EditResult/rankedOrder``.
  public var ranker: (any ResultRanker)?
  /// The thread count and matrix precision of this editor's edits (scoped to each edit, never process-wide).
  public var computeSettings: ComputeSettings

  /// Creates an editor.
  /// - Parameters:
  ///   - textEncoder: Prompt → `[N, 77, D]`.
  ///   - autoencoder: Image ↔ latents.
  ///   - noisePredictor: The denoiser.
  ///   - schedulerConfiguration: The model's scheduler configuration.
  ///   - ranker: Optional ranking of the results (none by default).
  ///   - computeSettings: Threads and matrix precision (default: the process's CPUs, fp32).
  public init(
    textEncoder: any TextEncoding, autoencoder: any LatentAutoencoder, noisePredictor: any NoisePredictor,
    schedulerConfiguration: SchedulerConfiguration, ranker: (any ResultRanker)? = nil,
    computeSettings: ComputeSettings = ComputeSettings()
  ) {
    self.textEncoder = textEncoder
    self.autoencoder = autoencoder
    self.noisePredictor = noisePredictor
    self.schedulerConfiguration = schedulerConfiguration
    self.ranker = ranker
    self.computeSettings = computeSettings
  }

  /// Edits with the torch-compatible generator seeded by `request.seed` (a random seed when `nil`).
  /// - Parameters:
  ///   - request: The edit.
  ///   - preview: When set, every denoising report carries a ``LatentPreview`` image of the current latents.
  ///   - progress: Called after every denoising step and fine-tuning iteration; return ``ProgressAction/stop``
  ///     to cancel.
  /// - Returns: The results.
  /// - Throws: ``PipelineError``.
  public func edit(
    _ request: EditRequest, preview: LatentPreview? = nil, progress: ProgressHandler = { _ in .proceed }
  ) throws(PipelineError) -> EditResult {
    let seed = request.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
    var result = try edit(request, noise: TorchGenerator(seed: seed), preview: preview, progress: progress)
    result.seed = seed
    return result
  }

  /// Edits with an injected noise source (drawn in the order of `Documentation/Method.md`; see ``BlendedDenoisingSteps``).
  /// - Parameters:
  ///   - request: The edit (its `seed` is ignored).
  ///   - noise: The noise source.
  ///   - preview: When set, every denoising report carries a ``LatentPreview`` image of the current latents.
  ///   - progress: Called after every denoising step and fine-tuning iteration; return ``ProgressAction/stop``
  ///     to cancel.
  /// - Returns: The results (`seed` is `nil`).
  /// - Throws: ``PipelineError``.
  public func edit<Source: NoiseSource>(
    _ request: EditRequest, noise: Source, preview: LatentPreview? = nil,
    progress: ProgressHandler = { _ in .proceed }
  ) throws(PipelineError) -> EditResult {
    do {
      return try computeSettings.applied {
        try run(request, noise: noise, preview: preview, progress: progress)
      }
    } catch let error as PipelineError {
      throw error
    } catch {
      preconditionFailure("run throws only PipelineError")
    }
  }

  private func run<Source: NoiseSource>(
    _ request: EditRequest, noise: Source, preview: LatentPreview?, progress: ProgressHandler
  ) throws(PipelineError) -> EditResult {
    defer { AllocatorTuning.releaseRetainedMemory() }  // an ended edit (or a failed one) keeps no freed heap
    let clock = ContinuousClock()
    let start = clock.now
    var timings = EditTimings()
    var phase = clock.now
    func lap() -> Duration {
      let now = clock.now
      defer { phase = now }
      return now - phase
    }

    // Checks and padding: everything a request can get wrong is found before any network runs.
    let checked = try EditInputs(request: request, factor: autoencoder.downsamplingFactor)
    try checkBackgroundIsPossible(request.background)
    var scheduler: any Scheduler
    do {
      scheduler = try request.scheduler.makeScheduler(
        configuration: schedulerConfiguration, stepCount: request.stepCount, strength: request.strength)
    } catch {
      throw .scheduler(error)
    }
    let stepTotal = scheduler.timesteps.count
    let kept = scheduler.keptStepCount(strength: request.strength)
    let inpaintingModel = try usesInpaintingConditioning()
    guard kept >= 1 else {
      throw .invalidParameter(
        name: "strength", value: "\(request.strength)", reason: "int(\(stepTotal) × strength) = 0 steps would run")
    }
    timings.preparation = lap()

    // Prompts.
    let conditioning: TextConditioning
    do { conditioning = try textEncoder.encode([request.negativePrompt, request.prompt]) } catch {
      throw .componentFailed(.textEncoding, underlying: error)
    }
    let embeddings = conditioning.embeddings
    guard embeddings.rank == 3, embeddings.shape[0] == 2 else {
      throw .componentOutput(.textEncoding, expected: [2, 77, -1], found: embeddings.shape)
    }
    guard embeddings.isFinite else { throw .nonFiniteOutput(.textEncoding) }
    let rows = embeddings.chunked(2, axis: 0)
    timings.textEncoding = lap()

    // Source latents.
    let factor = autoencoder.downsamplingFactor
    let (latentHeight, latentWidth) = (checked.paddedHeight / factor, checked.paddedWidth / factor)
    let pixels = (checked.paddedImage * 2 + -1).reshaped([1, 3, checked.paddedHeight, checked.paddedWidth])
    let mean: Tensor
    var imagePosterior: LatentPosterior?
    do {
      if inpaintingModel {
        imagePosterior = try autoencoder.encodePosterior(pixels)
        mean = imagePosterior!.mean
      } else {
        mean = try autoencoder.encodeMean(pixels)
      }
    } catch {
      throw .componentFailed(.imageEncoding, underlying: error)
    }
    let latentShape = [1, autoencoder.latentChannels, latentHeight, latentWidth]
    guard mean.shape == latentShape else {
      throw .componentOutput(.imageEncoding, expected: latentShape, found: mean.shape)
    }
    guard mean.isFinite else { throw .nonFiniteOutput(.imageEncoding) }
    let sourceLatents = mean * autoencoder.scalingFactor
    timings.imageEncoding = lap()

    // Mask and loop.
    let mask = LatentMask(
      pixelMask: checked.paddedMask, height: latentHeight, width: latentWidth, mode: request.maskOptions.downsampling)
    guard !mask.isEmpty else { throw .emptyLatentMask(latentHeight: latentHeight, latentWidth: latentWidth) }
    var pooled: (unconditional: Tensor, conditional: Tensor)?
    if let pooledRows = conditioning.pooledEmbeddings {
      guard pooledRows.rank == 2, pooledRows.shape[0] == 2 else {
        throw .componentOutput(.textEncoding, expected: [2, -1], found: pooledRows.shape)
      }
      guard pooledRows.isFinite else { throw .nonFiniteOutput(.textEncoding) }
      let halves = pooledRows.chunked(2, axis: 0)
      pooled = (halves[0], halves[1])
    }
    // SDXL's size/crop ids: original size, crop top-left (0, 0), target size (the working size).
    let original = request.originalSize ?? [checked.height, checked.width]
    let guidance = ClassifierFreeGuidance(
      unconditional: rows[0], conditional: rows[1], batchSize: request.batchSize, scale: request.guidanceScale,
      pooled: pooled,
      timeIDs: (original + [0, 0, checked.paddedHeight, checked.paddedWidth]).map(Float.init))
    var inpainting: InpaintingConditioning?
    if let imagePosterior {
      inpainting = try inpaintingConditioning(
        inputs: checked, pixels: pixels, image: imagePosterior, latentShape: latentShape,
        startsFromPureNoise: stepTotal == kept && request.strength == 1, blends: request.inpaintingBlend)
    }
    var steps = BlendedDenoisingSteps(
      scheduler: scheduler, predictor: noisePredictor, noise: noise, guidance: guidance,
      sourceLatents: sourceLatents, mask: inpainting == nil ? mask : mask.dilated(kernelSize: 3),
      beginIndex: stepTotal - kept, shrinkLevels: request.maskOptions.shrinkLevels, inpainting: inpainting)
    let loopStart = clock.now
    while true {
      let step: DenoisingStep?
      do { step = try steps.advance() } catch let error as PipelineError { throw error } catch {
        throw .componentFailed(.denoising, underlying: error)
      }
      guard let step else { break }
      let report = EditProgress(
        phase: .denoising, completed: step.index + 1, total: step.count, timestep: step.timestep,
        elapsed: clock.now - loopStart, preview: preview.flatMap { $0.image(of: steps.latents) })
      if progress(report) == .stop { throw .cancelled(.denoising, completed: step.index + 1) }
    }
    let finalLatents = steps.latents
    guard finalLatents.isFinite else { throw .nonFiniteOutput(.denoising) }
    timings.denoising = lap()
    AllocatorTuning.releaseRetainedMemory()  // the UNet loop's retained buffers must not add to the decode's peak

    // Decode.
    var paddedImages: [Tensor] = []
    let imageShape = [1, 3, checked.paddedHeight, checked.paddedWidth]
    for row in finalLatents.chunked(request.batchSize, axis: 0) {
      let decoded: Tensor
      do { decoded = try autoencoder.decode(row * (1 / autoencoder.scalingFactor)) } catch {
        throw .componentFailed(.decoding, underlying: error)
      }
      guard decoded.shape == imageShape else {
        throw .componentOutput(.decoding, expected: imageShape, found: decoded.shape)
      }
      guard decoded.isFinite else { throw .nonFiniteOutput(.decoding) }
      paddedImages.append(decoded.reshaped(Array(imageShape.dropFirst())).map { (min(max($0, -1), 1) + 1) / 2 })
    }
    timings.decoding = lap()

    var images = try reconstructBackground(
      paddedImages.map(checked.cropped), paddedImages: paddedImages, finalLatents: finalLatents, inputs: checked,
      request: request, progress: progress)
    timings.background = lap()
    AllocatorTuning.releaseRetainedMemory()  // the fine-tune's activations must not stay behind for the ranking

    // Ranking: ascending score, ties in batch order.
    var scores: [Float]?
    var rankedOrder: [Int]?
    if let ranker {
      let values: [Float]
      do { values = try ranker.scores(images: images, mask: checked.mask, prompt: request.prompt) } catch {
        throw .componentFailed(.ranking, underlying: error)
      }
      guard values.count == images.count else {
        throw .componentOutput(.ranking, expected: [images.count], found: [values.count])
      }
      guard values.allSatisfy(\.isFinite) else { throw .nonFiniteOutput(.ranking) }
      let ranked = RankedResult.ascending(values)
      images = ranked.map { images[$0.index] }
      scores = ranked.map(\.distance)
      rankedOrder = ranked.map(\.index)
    }
    timings.ranking = lap()
    timings.total = clock.now - start

    return EditResult(
      images: images, scores: scores, rankedOrder: rankedOrder, latentMask: mask.values, finalLatents: finalLatents,
      sourceLatents: sourceLatents, seed: nil, denoisingStepCount: kept,
      promptWasTruncated: conditioning.truncated.count > 1 && conditioning.truncated[1],
      negativePromptWasTruncated: conditioning.truncated.first ?? false, timings: timings,
      promptUnencodedCharacters: conditioning.unencodedCharacters.dropFirst().first ?? UnencodedCharacters(),
      negativePromptUnencodedCharacters: conditioning.unencodedCharacters.first ?? UnencodedCharacters())
  }
}

/// A request's image and mask after the input checks, padded to the autoencoder factor.
struct EditInputs {
  let height: Int
  let width: Int
  let paddedHeight: Int
  let paddedWidth: Int
  /// The mask at the request's size (resized to the image if asked).
  let mask: Tensor
  let paddedImage: Tensor
  let paddedMask: Tensor

  init(request: EditRequest, factor: Int) throws(PipelineError) {
    let image = request.image
    guard image.rank == 3, image.shape[0] == 3, image.shape[1] > 0, image.shape[2] > 0 else {
      throw .invalidImageShape(image.shape)
    }
    guard request.mask.rank == 2, request.mask.shape.allSatisfy({ $0 > 0 }) else {
      throw .invalidMaskShape(request.mask.shape)
    }
    guard image.isFinite else { throw .nonFiniteInput(name: "image") }
    guard request.mask.isFinite else { throw .nonFiniteInput(name: "mask") }
    for (name, tensor) in [("image", image), ("mask", request.mask)] {
      let minimum = tensor.scalars.min() ?? 0
      let maximum = tensor.scalars.max() ?? 0
      guard minimum >= 0, maximum <= 1 else { throw .valueOutOfRange(name: name, minimum: minimum, maximum: maximum) }
    }
    try Self.checkParameters(request)
    (height, width) = (image.shape[1], image.shape[2])
    var mask = request.mask
    if mask.shape != [height, width] {
      guard request.maskOptions.resizeMaskToImage else {
        throw .sizeMismatch(image: [height, width], mask: mask.shape)
      }
      mask = resizedNearest(mask, height: height, width: width)
    }
    guard mask.scalars.contains(where: { $0 >= 0.5 }) else { throw .emptyMask }
    self.mask = mask
    let paddedHeight = (height + factor - 1) / factor * factor
    let paddedWidth = (width + factor - 1) / factor * factor
    if paddedHeight != height || paddedWidth != width {
      if request.resizePolicy == .reject { throw .sizeNotMultiple(height: height, width: width, factor: factor) }
    }
    self.paddedHeight = paddedHeight
    self.paddedWidth = paddedWidth
    let (h, w) = (height, width)
    paddedImage = Tensor(shape: [3, paddedHeight, paddedWidth]) { out in
      image.withUnsafeBufferPointer { source in
        for c in 0..<3 {
          for i in 0..<paddedHeight {
            for j in 0..<paddedWidth {
              out[(c * paddedHeight + i) * paddedWidth + j] = source[(c * h + min(i, h - 1)) * w + min(j, w - 1)]
            }
          }
        }
      }
    }
    paddedMask = Tensor(shape: [paddedHeight, paddedWidth]) { out in
      mask.withUnsafeBufferPointer { source in
        for i in 0..<paddedHeight {
          for j in 0..<paddedWidth {
            out[i * paddedWidth + j] = i < h && j < w ? source[i * w + j] : 0
          }
        }
      }
    }
  }

  static func checkParameters(_ request: EditRequest) throws(PipelineError) {
    guard request.stepCount >= 1 else {
      throw .invalidParameter(name: "stepCount", value: "\(request.stepCount)", reason: "must be ≥ 1")
    }
    guard request.strength > 0, request.strength <= 1 else {
      throw .invalidParameter(name: "strength", value: "\(request.strength)", reason: "must lie in (0, 1]")
    }
    guard request.guidanceScale.isFinite, request.guidanceScale >= 0 else {
      throw .invalidParameter(
        name: "guidanceScale", value: "\(request.guidanceScale)", reason: "must be a finite number ≥ 0")
    }
    guard (1...EditRequest.maximumBatchSize).contains(request.batchSize) else {
      throw .invalidParameter(
        name: "batchSize", value: "\(request.batchSize)", reason: "must lie in 1…\(EditRequest.maximumBatchSize)")
    }
    if let size = request.originalSize, size.count != 2 || size.contains(where: { $0 < 1 }) {
      throw .invalidParameter(name: "originalSize", value: "\(size)", reason: "must be [height, width], both ≥ 1")
    }
    guard request.maskOptions.shrinkLevels >= 0 else {
      throw .invalidParameter(
        name: "maskOptions.shrinkLevels", value: "\(request.maskOptions.shrinkLevels)", reason: "must be ≥ 0")
    }
    if case .paste(let radius) = request.background, radius < 0 {
      throw .invalidParameter(name: "background.featherRadius", value: "\(radius)", reason: "must be ≥ 0")
    }
  }

  /// Crops a padded `[3, H', W']` image back to the request's size.
  func cropped(_ padded: Tensor) -> Tensor {
    guard paddedHeight != height || paddedWidth != width else { return padded }
    return padded.sliced(axis: 1, 0..<height).sliced(axis: 2, 0..<width)
  }
}
