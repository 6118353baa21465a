import TensorCore

/// What to do with the unmasked area after decoding (paper §4.2).
///
/// Latent optimisation, which the paper rejects as over-smoothed, is not offered.
public enum BackgroundMode: Sendable, Equatable {
  /// The raw decode `D(z₀)` (the paper's "none"); the background drifts by the VAE's reconstruction error.
  case none
  /// Pixel paste `x̂ ⊙ w + x ⊙ (1 − w)`: exact original pixels outside the mask. With `featherRadius` r > 0 the
  /// weight inside the mask ramps from `1/(r+1)` at its border to 1 at `r+1` pixels in (Euclidean distance to
  /// the nearest unmasked pixel), softening the seam without touching any pixel outside.
  case paste(featherRadius: Int = 0)
  /// Poisson (gradient-domain) blending of the edited region into the original: the masked area keeps the
  /// edit's gradients with the original's values on its border, solved by conjugate gradients per channel.
  /// Outside the mask the original pixels are kept exactly.
  case poisson(PoissonBlending = PoissonBlending())
  /// The paper's choice (§4.2): fine-tune the VAE decoder's weights for this image so the unmasked area
  /// matches the original and the masked area stays the edit, then decode with the tuned weights. Needs an
  /// autoencoder that is a ``FineTunableDecoder``; its own weights are never changed.
  /// ``DecoderFineTuningOptions/paper`` is the paper's setting, ``DecoderFineTuningOptions/fast`` the crop and
  /// last-block mode (see `Documentation/DecoderFineTuning.md`).
  case optimize(DecoderFineTuningOptions = .paper)
}

/// How sizes that are not multiples of the autoencoder factor (8) are handled.
public enum ResizePolicy: Sendable, Equatable {
  /// Pad bottom and right to the next multiple (image: edge pixels repeated; mask: 0, i.e. not edited), edit,
  /// then crop back: every output pixel corresponds to an input pixel, nothing is resampled. The default.
  case pad
  /// Throw ``PipelineError/sizeNotMultiple(height:width:factor:)``.
  case reject
}

/// Mask handling options.
public struct MaskOptions: Sendable, Equatable {
  /// How the pixel mask becomes a latent mask (default: nearest, the paper's).
  public var downsampling: MaskDownsampling
  /// K for progressive mask shrinking (paper §4.3 uses 3 for thin masks; 0, the default, disables it).
  public var shrinkLevels: Int
  /// If the mask's size differs from the image's, resize it (nearest, PIL rule) instead of throwing.
  public var resizeMaskToImage: Bool

  /// Creates mask options.
  public init(downsampling: MaskDownsampling = .nearest, shrinkLevels: Int = 0, resizeMaskToImage: Bool = false) {
    self.downsampling = downsampling
    self.shrinkLevels = shrinkLevels
    self.resizeMaskToImage = resizeMaskToImage
  }
}

/// One local edit: an image, a mask of the region to change, and a prompt for it.
///
/// Defaults are the authors' SD 2.1 script's (50 DDIM steps, guidance 7.5, strength 0.75) except the batch,
/// which is 1 here (the script generates 4).
public struct EditRequest: Sendable {
  /// The source image `[3, H, W]`, RGB in [0, 1].
  public var image: Tensor
  /// The mask `[H, W]` in [0, 1]; ≥ 0.5 means "edit here".
  public var mask: Tensor
  /// The text describing the edited region.
  public var prompt: String
  /// The unconditional text for classifier-free guidance (default empty).
  public var negativePrompt: String
  /// The scheduler's `set_timesteps` count before strength (default 50).
  public var stepCount: Int
  /// The classifier-free guidance scale g, finite and ≥ 0 (default 7.5).
  public var guidanceScale: Float
  /// The fraction of the schedule that runs: the last `int(stepCount · strength)` steps (default 0.75).
  public var strength: Double
  /// The seed of the torch-compatible generator; `nil` picks a random one (reported in the result).
  public var seed: UInt64?
  /// The number of results B, in 1…``maximumBatchSize`` (default 1).
  public var batchSize: Int
  /// The largest ``batchSize`` accepted: 64 (the `bld --batch` limit too).
  public static let maximumBatchSize = 64
  /// The sampler (default deterministic DDIM).
  public var scheduler: SchedulerKind
  /// Mask handling.
  public var maskOptions: MaskOptions
  /// Background handling after decoding (default ``BackgroundMode/none``).
  public var background: BackgroundMode
  /// Handling of sizes that are not multiples of 8 (default ``ResizePolicy/pad``).
  public var resizePolicy: ResizePolicy
  /// With an inpainting UNet (`in_channels` 9): whether Blended Latent Diffusion's blend still runs after every
  /// step (default true), with the latent mask dilated by one cell (3 × 3) so the model can join the edit to its
  /// surroundings. The inpainting model alone changes unmasked pixels; false reproduces diffusers'
  /// `StableDiffusionInpaintPipeline`. Ignored for latents-only UNets, which always blend.
  public var inpaintingBlend: Bool
  /// SDXL's `original_size` micro-conditioning, `[height, width]`: the size, in the source photo, of what the
  /// image shows — the photo's size when it was resized to the working size, the crop's size with crop-to-mask.
  /// `nil` (the default) uses the image's own size, as diffusers does. Ignored by SD 1.x / 2.x.
  public var originalSize: [Int]?

  /// Creates a request with the documented defaults.
  public init(
    image: Tensor, mask: Tensor, prompt: String, negativePrompt: String = "", stepCount: Int = 50,
    guidanceScale: Float = 7.5, strength: Double = 0.75, seed: UInt64? = nil, batchSize: Int = 1,
    scheduler: SchedulerKind = .ddim(eta: 0), maskOptions: MaskOptions = MaskOptions(),
    background: BackgroundMode = .none, resizePolicy: ResizePolicy = .pad, inpaintingBlend: Bool = true
  ) {
    self.image = image
    self.mask = mask
    self.prompt = prompt
    self.negativePrompt = negativePrompt
    self.stepCount = stepCount
    self.guidanceScale = guidanceScale
    self.strength = strength
    self.seed = seed
    self.batchSize = batchSize
    self.scheduler = scheduler
    self.maskOptions = maskOptions
    self.background = background
    self.resizePolicy = resizePolicy
    self.inpaintingBlend = inpaintingBlend
  }

  /// Creates a request from decoded images with the documented defaults: the mask is `mask`'s luminance
  /// (white = edit, ``RGBImage/luminanceTensor()``); use `RGBImage/transparencyTensor()` and the tensor
  /// initialiser for an alpha-channel mask. Set the other fields afterwards.
  /// - Parameters:
  ///   - image: The source image (its alpha channel, if any, is ignored).
  ///   - mask: The mask image; a different size is an error at edit time unless
  ///     ``MaskOptions/resizeMaskToImage`` is set.
  ///   - prompt: The text describing the edited region.
  public init(image: RGBImage, mask: RGBImage, prompt: String) {
    self.init(image: image.tensor(), mask: mask.luminanceTensor(), prompt: prompt)
  }

  /// The number of steps that run: `int(stepCount · strength)` capped at `stepCount` (diffusers img2img rule),
  /// or `stepCount` for ``SchedulerKind/lcm``, whose strength moves its timesteps instead (``LCMScheduler``).
  public var keptStepCount: Int {
    scheduler == .lcm ? stepCount : min(Int(Double(stepCount) * strength), stepCount)
  }
}
