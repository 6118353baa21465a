import BlendedLatent
import Foundation
import TensorCore

/// The whole of `bld edit` after parsing: read → check → load model → edit → paste back → write.
///
/// Order: outputs are checked first (so a refused output or an unwritable folder costs nothing), then the image
/// and mask sizes are read from their headers (size mismatch, memory preflight), then they are decoded and
/// checked, then the model is loaded, the working geometry chosen (whole image, or `--crop-to-mask`),
/// the editor run, each result composited into the full-resolution original (pixel paste through the mask
/// for `--background paste`, so every outside pixel stays identical; otherwise the edited region as a
/// whole), quantised to 8 bits, and all outputs written atomically. Cancellation is checked by the progress
/// handler, after the edit, and right before the outputs are moved into place.
package struct EditSession {
  /// The validated settings.
  package var settings: EditSettings
  /// Loads the model.
  package var backend: any EditBackend
  /// Where notes, progress and results go.
  package var console: any CommandConsole
  /// Set by Ctrl-C.
  package var cancellation: CancellationToken
  /// Temporary files in flight.
  package var temporaries: TemporaryFiles
  /// Picks a seed when `--seed` is absent (default: uniform in 0 … 2³² − 1).
  package var randomSeed: () -> UInt64 = { UInt64.random(in: 0...UInt64(UInt32.max)) }

  /// Creates a session.
  package init(
    settings: EditSettings, backend: any EditBackend, console: any CommandConsole,
    cancellation: CancellationToken = CancellationToken(),
    temporaries: TemporaryFiles = TemporaryFiles()
  ) {
    self.settings = settings
    self.backend = backend
    self.console = console
    self.cancellation = cancellation
    self.temporaries = temporaries
  }

  /// Runs the edit and writes the outputs.
  /// - Parameter progressBar: the bar to draw progress and notes on.
  /// - Returns: the summary (also what `--json` prints).
  /// - Throws: ``EditCommandError``, `ImageFileError`, or the backend's errors; ``EditCommandError/cancelled``
  ///   whenever the token was cancelled. Nothing is left on disk after a throw.
  package func run(progressBar: ProgressBar) throws -> EditSummary {
    let clock = ProgressBar.monotonicSeconds
    let start = clock()
    var timings: [String: Double] = [:]
    let outputs = settings.outputPaths
    var inputs = [settings.imagePath]
    if case .file(let maskPath) = settings.mask { inputs.append(maskPath) }
    try AtomicOutput.checkOutputs(outputs, inputs: inputs, overwrite: settings.overwrite)

    // Image and mask: sizes from the headers first, so a size mismatch or a too-large image costs no decoding.
    let imageData = try RGBImage.readFile(URL(fileURLWithPath: settings.imagePath))
    let maskData: Data?
    if case .file(let path) = settings.mask {
      let data = try RGBImage.readFile(URL(fileURLWithPath: path))
      if let imageSize = ImageDimensions(encoded: imageData), let maskSize = ImageDimensions(encoded: data),
        imageSize != maskSize
      {
        throw EditCommandError.maskSizeMismatch(
          mask: path, maskSize: "\(maskSize.width)×\(maskSize.height)",
          image: settings.imagePath, imageSize: "\(imageSize.width)×\(imageSize.height)")
      }
      maskData = data
    } else {
      maskData = nil
    }
    if let size = ImageDimensions(encoded: imageData), size.width * size.height <= RGBImage.defaultMaximumPixelCount {
      try MemoryPreflight.check(
        needed: MemoryPreflight.imageBytes(width: size.width, height: size.height),
        for: "the \(size.width)×\(size.height) image")
    }
    // Decodes check the token every band of rows, so Ctrl-C during a long decode need not wait for it.
    let token = cancellation
    func decoded(_ data: Data, _ name: String) throws -> RGBImage {
      do { return try RGBImage(decoding: data, fileName: name, shouldStop: { token.isCancelled }) } catch ImageFileError
        .cancelled
      { throw EditCommandError.cancelled }
    }
    let image = try decoded(imageData, settings.imagePath)
    let mask: Tensor
    let maskName: String
    switch settings.mask {
    case .file(let path):
      let maskImage = try decoded(maskData ?? Data(), path)
      guard maskImage.width == image.width && maskImage.height == image.height else {
        throw EditCommandError.maskSizeMismatch(
          mask: path, maskSize: "\(maskImage.width)×\(maskImage.height)",
          image: settings.imagePath, imageSize: "\(image.width)×\(image.height)")
      }
      mask = maskImage.luminanceTensor()
      maskName = path
    case .alpha:
      guard let transparency = image.transparencyTensor() else {
        throw ImageFileError.noAlphaChannel(file: settings.imagePath)
      }
      mask = transparency
      maskName = "alpha channel of \(settings.imagePath)"
    }
    guard PixelRegion.boundingBox(ofMask: mask) != nil else {
      throw EditCommandError.emptyMask(mask: maskName)
    }
    let original = image.tensor()
    timings["load_images"] = clock() - start

    let seed = settings.seed ?? randomSeed()
    if settings.seed == nil && !settings.quiet {
      progressBar.note("bld: seed \(seed) (chosen at random; pass --seed \(seed) to repeat)")
    }
    try cancellation.check()

    let handler: ProgressHandler = { progress in
      progressBar.update(progress)
      return token.progressAction
    }

    // Model.
    let loadStart = clock()
    let editor = try cancellable {
      try backend.prepareEditor(settings: settings, progress: handler)
    }
    timings["load_model"] = clock() - loadStart
    var notices = editor.notices
    if let notice = settings.threadCapNotice { notices.append(notice) }
    if !settings.quiet { for notice in notices { progressBar.note("bld: \(notice)") } }
    try cancellation.check()

    // Geometry and the edit.
    let native = editor.nativeResolution
    let multiple = max(1, editor.sizeMultiple)
    var geometry: EditGeometry
    if let padding = settings.cropPadding,
      let crop = try EditGeometry.cropToMask(
        mask, padding: padding, nativeResolution: native, sizeMultiple: multiple)
    {
      geometry = crop
    } else {
      geometry = try EditGeometry.wholeImage(
        width: image.width, height: image.height, nativeResolution: native, sizeMultiple: multiple)
    }
    if settings.workingSize == .original { geometry = geometry.atOriginalSize }
    try MemoryPreflight.check(
      needed: MemoryPreflight.workingBytes(
        width: geometry.workingWidth, height: geometry.workingHeight, batch: settings.batchSize),
      for: "editing at \(geometry.workingWidth)×\(geometry.workingHeight) with a batch of \(settings.batchSize)")
    var request = settings.editRequest(
      image: geometry.workingImage(from: original), mask: geometry.workingMask(from: mask), seed: seed)
    request.originalSize = [geometry.region.height, geometry.region.width]  // SDXL: the region's size in the photo
    let editStart = clock()
    let outcome = try cancellable { try editor.edit(request, progress: handler) }
    timings["edit"] = clock() - editStart
    for (phase, seconds) in outcome.timings.secondsByPhase { timings[phase] = seconds }
    try cancellation.check()
    try check(outcome, geometry: geometry)
    for (truncated, option) in [
      (outcome.promptWasTruncated, "--prompt"), (outcome.negativePromptWasTruncated, "--negative-prompt"),
    ] where truncated {
      let notice =
        "\(option) is longer than the text encoder's token limit (77 for Stable Diffusion); the rest was ignored"
      notices.append(notice)
      if !settings.quiet { progressBar.note("bld: \(notice)") }
    }
    for (characters, option) in [
      (outcome.promptUnencodedCharacters, "--prompt"),
      (outcome.negativePromptUnencodedCharacters, "--negative-prompt"),
    ] {
      guard let notice = characters.notice(for: option) else { continue }
      notices.append(notice)
      if !settings.quiet { progressBar.note("bld: \(notice)") }
    }

    // Paste back, quantise, encode, write.
    let writeStart = clock()
    let policy: PastePolicy =
      settings.background == .paste ? .mask(featherRadius: settings.featherRadius) : .region
    var files: [(path: String, data: Data)] = []
    for (index, edited) in outcome.images.enumerated() {
      let composite = geometry.composite(edited: edited, into: original, mask: mask, policy: policy)
      let data: Data
      do {
        data = try RGBImage(tensor: composite).pngData(shouldStop: { token.isCancelled })
      } catch let error as ImageFileError {
        throw ImageFileError.encodingFailed(file: outputs[index], detail: "\(error)")
      }
      files.append((outputs[index], data))
      try cancellation.check()
    }
    try AtomicOutput.write(
      files, overwrite: settings.overwrite, inputs: inputs, temporaries: temporaries,
      beforeCommit: { try token.check() })
    timings["write"] = clock() - writeStart
    timings["total"] = clock() - start
    progressBar.finish()

    return EditSummary(
      outputs: outputs, seed: seed, seedWasRandom: settings.seed == nil,
      model: editor.modelDescription,
      notices: notices, scores: outcome.scores?.map(Double.init),
      image: .init(width: image.width, height: image.height),
      workingSize: .init(width: geometry.workingWidth, height: geometry.workingHeight),
      region: .init(
        x: geometry.region.x, y: geometry.region.y, width: geometry.region.width,
        height: geometry.region.height),
      timings: timings,
      settings: .init(
        prompt: settings.prompt, negativePrompt: settings.negativePrompt, steps: settings.stepCount,
        stepsRun: settings.stepsRun, guidance: settings.guidanceScale, strength: settings.strength,
        batch: settings.batchSize, scheduler: settings.scheduler.rawValue,
        background: settings.background.rawValue,
        maskShrink: settings.maskShrinkLevels, maskDownsample: settings.maskDownsample.rawValue,
        cropToMask: settings.cropPadding, feather: settings.featherRadius,
        workingSize: settings.workingSize.rawValue,
        threads: settings.computeSettings.resolvedThreadCount, precision: settings.precision.rawValue))
  }

  /// Runs `body`; any error thrown after cancellation becomes ``EditCommandError/cancelled``.
  private func cancellable<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch {
      if cancellation.isCancelled { throw EditCommandError.cancelled }
      throw error
    }
  }

  private func check(_ outcome: EditResult, geometry: EditGeometry) throws {
    guard outcome.images.count == settings.batchSize else {
      throw EditCommandError.invalidOutcome(
        reason: "\(outcome.images.count) images for a batch of \(settings.batchSize)")
    }
    let expected = [3, geometry.workingHeight, geometry.workingWidth]
    for image in outcome.images where image.shape != expected {
      throw EditCommandError.invalidOutcome(
        reason: "image of shape \(image.shape), expected \(expected)")
    }
    if let scores = outcome.scores, scores.count != outcome.images.count {
      throw EditCommandError.invalidOutcome(
        reason: "\(scores.count) scores for \(outcome.images.count) images")
    }
  }
}
