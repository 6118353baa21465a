import BlendedLatent
import Foundation
import Networks
import TensorCore

/// Loads a Stable Diffusion folder (or the demonstration model) and edits through `BlendedLatentEditor`.
struct PipelineEditBackend: EditBackend {
  func prepareEditor(settings: EditSettings, progress: EditProgressHandler) throws -> any PreparedEditor {
    if let threads = settings.threadCount { ComputeOptions.setThreadCount(threads) }
    guard progress(EditPhaseProgress(phase: EditPhaseProgress.loading, completed: 0, total: 1)) == .proceed else {
      throw EditCommandError.cancelled
    }
    let model: StableDiffusionModel
    var notices: [String] = []
    let description: String
    if let path = settings.modelDirectory {
      model = try StableDiffusionModel(directory: ModelDirectory(root: URL(fileURLWithPath: path)))
      description = path
    } else {
      model = DemonstrationModel.make()
      description = "built-in demonstration model"
      notices.append(
        "no --model given: using the built-in demonstration model, whose weights are RANDOM — it shows the "
          + "mechanics (the mask is respected, --background paste keeps every outside pixel), not real edits")
    }
    var editor = try BlendedLatentEditor(model: model)
    if let path = settings.rankingModelDirectory {
      editor.ranker = try CLIPRanker(directory: URL(fileURLWithPath: path))
    }
    _ = progress(EditPhaseProgress(phase: EditPhaseProgress.loading, completed: 1, total: 1))
    let latentSize = model.unet.configuration.sampleSize ?? 64
    return PipelineEditor(
      editor: editor, nativeResolution: latentSize * model.vae.downsamplingFactor,
      sizeMultiple: model.vae.downsamplingFactor, modelDescription: description, notices: notices)
  }
}

/// A loaded editor, driven by the command.
struct PipelineEditor: PreparedEditor {
  let editor: BlendedLatentEditor
  let nativeResolution: Int
  let sizeMultiple: Int
  let modelDescription: String
  let notices: [String]

  func edit(_ job: EditJob, progress: EditProgressHandler) throws -> EditOutcome {
    let settings = job.settings
    let request = EditRequest(
      image: job.image, mask: job.mask, prompt: settings.prompt, negativePrompt: settings.negativePrompt,
      stepCount: settings.stepCount, guidanceScale: Float(settings.guidanceScale), strength: settings.strength,
      seed: job.seed, batchSize: settings.batchSize, scheduler: settings.scheduler.schedulerKind,
      maskOptions: MaskOptions(
        downsampling: settings.maskDownsample == .max ? .maxPool : .nearest,
        shrinkLevels: settings.maskShrinkLevels),
      background: settings.backgroundMode)
    let result = try editor.edit(request) { step in
      let phase = step.phase == .denoising ? EditPhaseProgress.denoising : EditPhaseProgress.background
      let reply = progress(EditPhaseProgress(phase: phase, completed: step.completedSteps, total: step.totalSteps))
      return reply == .proceed ? .proceed : .stop
    }
    let timings = result.timings
    return EditOutcome(
      images: result.images, scores: result.scores?.map(Double.init),
      timings: [
        "preparation": timings.preparation, "text_encoding": timings.textEncoding,
        "image_encoding": timings.imageEncoding, "denoising": timings.denoising, "decoding": timings.decoding,
        "background": timings.background, "ranking": timings.ranking, "total": timings.total,
      ])
  }
}

extension SchedulerChoice {
  /// The pipeline's scheduler for this command-line choice (DDIM with η = 0).
  var schedulerKind: SchedulerKind {
    switch self {
    case .ddim: .ddim(eta: 0)
    case .dpmSolverMultistep: .dpmSolverMultistep
    case .euler: .eulerDiscrete
    case .eulerAncestral: .eulerAncestralDiscrete
    }
  }
}

extension EditSettings {
  /// The pipeline's background mode for `--background` (the command pastes through the mask itself at
  /// full resolution as well, so `paste` stays exact at any size).
  var backgroundMode: BackgroundMode {
    get {
      switch background {
      case .none: .none
      case .paste: .paste(featherRadius: featherRadius)
      case .poisson: .poisson()
      case .optimize:
        .optimize(
          {
            var options: DecoderFineTuningOptions = fineTunePreset == .paper ? .paper : .fast
            if let fineTuneIterations { options.iterationCount = fineTuneIterations }
            if let fineTuneActivationBytes { options.activationMemoryBudget = fineTuneActivationBytes }
            return options
          }())
      }
    }
  }
}
