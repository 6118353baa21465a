import BlendedLatent
import Foundation
import TensorCore

extension EditSettings {
  /// The library request for the working image and mask: every editing option of the command line.
  /// - Parameters:
  ///   - image: `[3, H, W]` at the working size.
  ///   - mask: `[H, W]` at the working size.
  ///   - seed: the seed (given or chosen at random).
  package func editRequest(image: Tensor, mask: Tensor, seed: UInt64) -> EditRequest {
    EditRequest(
      image: image, mask: mask, prompt: prompt, negativePrompt: negativePrompt, stepCount: stepCount,
      guidanceScale: Float(guidanceScale), strength: strength, seed: seed, batchSize: batchSize,
      scheduler: scheduler.schedulerKind,
      maskOptions: MaskOptions(
        downsampling: maskDownsample == .max ? .maxPool : .nearest, shrinkLevels: maskShrinkLevels),
      background: backgroundMode, inpaintingBlend: inpaintingBlend)
  }

  /// The editor's thread count (`--threads`) and matrix precision (`--precision`).
  package var computeSettings: ComputeSettings {
    ComputeSettings(
      threadCount: threadCount.map { min($0, Self.maximumThreadCount) }, matrixPrecision: precision.gemmPrecision)
  }

  /// The most compute threads used: the machine's online CPUs (more threads only add contention and reserved
  /// stacks; `--threads 10000` used to reserve gigabytes of address space).
  package static var maximumThreadCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

  /// The notice for a `--threads` above ``maximumThreadCount``, or `nil`.
  package var threadCapNotice: String? {
    guard let threadCount, threadCount > Self.maximumThreadCount else { return nil }
    return "--threads \(threadCount) is more than the \(Self.maximumThreadCount) CPUs of this machine; "
      + "using \(Self.maximumThreadCount) threads"
  }

  /// The pipeline's background mode for `--background` (the command pastes through the mask itself at
  /// full resolution as well, so `paste` stays exact at any size).
  var backgroundMode: BackgroundMode {
    switch background {
    case .none: .none
    case .paste: .paste(featherRadius: featherRadius)
    case .poisson: .poisson()
    case .optimize: .optimize(fineTuneOptions(headroom: MemoryPreflight.headroom()))
    }
  }

  /// The decoder fine-tune's options: the preset with `--fine-tune-iterations` and `--fine-tune-memory-gb`.
  /// Without `--fine-tune-memory-gb`, the activation budget is the default (6 GB) or half of `headroom` (the
  /// memory left under a `ulimit -v` or cgroup limit) when that is less, so a limited process recomputes
  /// activations rather than running out of memory.
  package func fineTuneOptions(headroom: MemoryPreflight.Headroom?) -> DecoderFineTuningOptions {
    var options: DecoderFineTuningOptions = fineTunePreset == .paper ? .paper : .fast
    if let fineTuneIterations { options.iterationCount = fineTuneIterations }
    if let fineTuneActivationBytes {
      options.activationMemoryBudget = fineTuneActivationBytes
    } else if let headroom {
      options.activationMemoryBudget = min(options.activationMemoryBudget, max(0, headroom.bytes / 2))
    }
    return options
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
    case .lcm: .lcm
    }
  }
}
