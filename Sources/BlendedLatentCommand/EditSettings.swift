import Foundation
import Networks
import TensorCore

/// Where the edit mask comes from.
package enum MaskSource: Sendable, Equatable {
  /// A mask image file, read as gray: white (> 50 %) = edit.
  case file(String)
  /// The input image's own alpha channel (`--mask alpha`): transparent (alpha < 50 %) = edit.
  case alpha
}

/// The denoising scheduler (`--scheduler`).
package enum SchedulerChoice: String, Sendable, Equatable, CaseIterable, Codable {
  /// DDIM, η = 0 (the method's default).
  case ddim
  /// DPM-Solver++ (2M).
  case dpmSolverMultistep = "dpm++2m"
  /// Euler (Karras et al. sampler without noise).
  case euler
  /// Euler ancestral.
  case eulerAncestral = "euler-a"
  /// Latent Consistency Model sampling (LCM and LCM-LoRA models; strength moves its timesteps).
  case lcm
}

extension SchedulerChoice {
  /// The choice for a diffusers scheduler class (`_class_name` of `scheduler_config.json`), or `nil` for a class
  /// `bld` does not run (PNDM, LMS, …).
  init?(diffusersClass name: String?) {
    switch name {
    case "DDIMScheduler": self = .ddim
    case "DPMSolverMultistepScheduler": self = .dpmSolverMultistep
    case "EulerDiscreteScheduler": self = .euler
    case "EulerAncestralDiscreteScheduler": self = .eulerAncestral
    case "LCMScheduler": self = .lcm
    default: return nil
    }
  }
}

/// An on/off command-line value (`--inpainting-blend on|off`).
package enum Switch: String, Sendable, Equatable, CaseIterable, Codable {
  /// On.
  case on
  /// Off.
  case off
}

/// How the unmasked background is reconstructed after decoding (`--background`, `Documentation/Method.md`, paper §4.2).
package enum BackgroundChoice: String, Sendable, Equatable, CaseIterable, Codable {
  /// The decoder's output as is.
  case none
  /// Pixel paste: every pixel outside the mask is the original's, bit for bit.
  case paste
  /// Per-image decoder fine-tuning (the paper's adopted reconstruction).
  case optimize
  /// Poisson blending of the masked region into the original.
  case poisson
}

/// How the pixel mask is brought to latent resolution (`--mask-downsample`).
package enum MaskDownsampleChoice: String, Sendable, Equatable, CaseIterable, Codable {
  /// Nearest neighbour with PIL's sampling rule (the method's default).
  case nearest
  /// Max pooling: a latent cell is selected when any of its pixels is (keeps thin strokes).
  case max
}

/// Which decoder fine-tune `--background optimize` runs (`--fine-tune`).
package enum FineTunePreset: String, Sendable, Equatable, CaseIterable, Codable {
  /// The paper's: every decoder weight, the whole image, 75 Adam iterations at lr 1e-4, λ = 100.
  case paper
  /// Only the last up block (less its first input norm) and output head, trained on a crop around the mask
  /// (about 9× faster at 512).
  case fast
}

/// The arithmetic of the networks' matrix products (`--precision`).
package enum PrecisionChoice: String, Sendable, Equatable, CaseIterable, Codable {
  /// fp32 throughout (the default; reproduces the Python reference).
  case fp32
  /// Matrix products with bf16 inputs and fp32 accumulation (AVX512_BF16; fp32 on CPUs without it):
  /// faster, not bit-comparable with the reference (see TensorCore's `GEMMPrecision`).
  case bf16

  /// The TensorCore precision.
  package var gemmPrecision: GEMMPrecision { self == .fp32 ? .float32 : .bfloat16 }
}

/// At what size the model works (`--working-size`).
package enum WorkingSizeChoice: String, Sendable, Equatable, CaseIterable, Codable {
  /// Resize so the longer side is the model's native resolution, sides multiples of the editor's size
  /// multiple (the default: predictable time and memory, the size the model was trained at).
  case native
  /// Keep the image's (or the crop's) own size; the editor handles sides that are not multiples of 8
  /// (the pipeline pads them). Slow and memory-hungry for large images.
  case original
}

/// Every `bld edit` setting after parsing and validation, with the method's defaults.
///
/// This is what an ``EditBackend`` receives; it maps these onto the pipeline's own request type.
package struct EditSettings: Sendable, Equatable {
  /// The input image path (PNG or JPEG).
  package var imagePath: String
  /// Where the mask comes from.
  package var mask: MaskSource
  /// The edit prompt.
  package var prompt: String
  /// The negative prompt (empty by default: the unconditional text).
  package var negativePrompt: String = ""
  /// The output path as given (ends in `.png`); batches write `OUT-0.png …`, see ``outputPaths``.
  package var outputPath: String
  /// A diffusers-layout model folder or a single-file `.safetensors` checkpoint, or `nil` for the built-in
  /// demonstration model.
  package var modelPath: String?
  /// A diffusers folder whose configurations and tokenizer a single-file checkpoint is built with (`--config`).
  package var modelConfigurationDirectory: String?
  /// The UNet's prediction type, overriding what the loader decides (`--prediction`).
  package var predictionType: PredictionType?
  /// LoRAs applied to the model's UNet and text encoders after loading (`--lora FILE[:SCALE]`, in order).
  package var loras: [LoRASetting] = []
  /// Denoising steps of the full schedule (default 50).
  package var stepCount: Int = 50
  /// Classifier-free guidance scale (default 7.5).
  package var guidanceScale: Double = 7.5
  /// Fraction of the schedule that is run (default 0.75: the last `Int(steps · strength)` steps).
  package var strength: Double = 0.75
  /// The seed given with `--seed`, or `nil` for a random one (the session picks and reports it).
  package var seed: UInt64?
  /// Results generated from one run (default 1).
  package var batchSize: Int = 1
  /// The denoising scheduler.
  package var scheduler: SchedulerChoice = .ddim
  /// With an inpainting UNet: blend after every step (default true; `--inpainting-blend`).
  package var inpaintingBlend = true
  /// The background reconstruction.
  package var background: BackgroundChoice = .none
  /// Progressive mask shrinking levels K (0 = off; the paper uses 3 for thin masks).
  package var maskShrinkLevels: Int = 0
  /// How the mask reaches latent resolution.
  package var maskDownsample: MaskDownsampleChoice = .nearest
  /// `--crop-to-mask PIXELS`: padding around the mask's bounding box, or `nil` to edit the whole image.
  package var cropPadding: Int?
  /// The working-size policy.
  package var workingSize: WorkingSizeChoice = .native
  /// Inward feather radius in pixels for `--background paste` (0 = hard edge).
  package var featherRadius: Int = 0
  /// The decoder fine-tune of `--background optimize`.
  package var fineTunePreset: FineTunePreset = .paper
  /// Adam iterations of `--background optimize`, or `nil` for the preset's (75).
  package var fineTuneIterations: Int?
  /// The activation memory budget of `--background optimize` in bytes (`--fine-tune-memory-gb`), or `nil` for the
  /// default (`DecoderFineTuningOptions.defaultActivationMemoryBudget`, 6 GB).
  package var fineTuneActivationBytes: Int?
  /// A CLIP model folder to rank the batch with, or `nil`.
  package var rankingModelDirectory: String?
  /// Compute threads, or `nil` for the default (`ComputeOptions.defaultThreadCount`: the CPUs this process may use).
  package var threadCount: Int?
  /// The matrix-product arithmetic.
  package var precision: PrecisionChoice = .fp32
  /// Print a JSON summary on standard output.
  package var json = false
  /// No progress bar and no notes on standard error.
  package var quiet = false
  /// Replace existing output files.
  package var overwrite = false

  /// Creates settings with the method's defaults for everything not given.
  package init(imagePath: String, mask: MaskSource, prompt: String, outputPath: String) {
    self.imagePath = imagePath
    self.mask = mask
    self.prompt = prompt
    self.outputPath = outputPath
  }

  /// The number of denoising steps actually run: `Int(stepCount · strength)` (diffusers' img2img rule), or
  /// `stepCount` with LCM, whose strength moves its timesteps instead.
  package var stepsRun: Int { scheduler == .lcm ? stepCount : Int(Double(stepCount) * strength) }

  /// The files the edit writes: `outputPath` for one result; `OUT-0.png … OUT-(N-1).png` for a batch of N
  /// (the index goes before the extension), in ranked order when ranking.
  package var outputPaths: [String] {
    guard batchSize > 1 else { return [outputPath] }
    let url = URL(fileURLWithPath: outputPath)
    let stem = url.deletingPathExtension().lastPathComponent
    let directory = (outputPath as NSString).deletingLastPathComponent
    let fileExtension = url.pathExtension
    return (0..<batchSize).map { index in
      let name = "\(stem)-\(index).\(fileExtension)"
      return directory.isEmpty ? name : (directory as NSString).appendingPathComponent(name)
    }
  }
}
