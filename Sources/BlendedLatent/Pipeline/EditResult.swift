import TensorCore

/// Seconds spent in each phase of an edit.
public struct EditTimings: Sendable, Equatable {
  /// Input checks, padding and mask preparation.
  public var preparation: Double = 0
  /// Prompt encoding.
  public var textEncoding: Double = 0
  /// Source image encoding.
  public var imageEncoding: Double = 0
  /// The denoising loop.
  public var denoising: Double = 0
  /// Decoding all results.
  public var decoding: Double = 0
  /// Background handling.
  public var background: Double = 0
  /// Scoring and ordering the results (0 without a ranker).
  public var ranking: Double = 0
  /// The whole edit.
  public var total: Double = 0

  /// All zero.
  public init() {}
}

/// The outcome of an edit.
public struct EditResult: Sendable {
  /// The B edited images, each `[3, H, W]` RGB in [0, 1] at the request's size (not quantised; method.md's 8-bit
  /// values are `round(255 · v)`). In batch order, or best first when a ranker ran (see ``rankedOrder``).
  public var images: [Tensor]
  /// Ranking scores of ``images``, element for element (CLIP distance, lower is better), in ascending order,
  /// when a ranker ran; `nil` otherwise.
  public var scores: [Float]?
  /// When a ranker ran, the batch index of each of ``images``: `images[k]` is the result decoded from
  /// `finalLatents[rankedOrder[k]]` (``finalLatents`` stay in batch order). `nil` without a ranker.
  public var rankedOrder: [Int]? = nil
  /// The latent mask used for blending (the final, undilated level), `[h, w]` of 0/1; with ``ResizePolicy/pad``
  /// it covers the padded size (`h = ⌈H / 8⌉`).
  public var latentMask: Tensor
  /// The final latents `[B, C, h, w]` in scaled latent space (before dividing by the scaling factor); outside the
  /// mask used at the last step (the latent mask itself unless fewer steps than shrink levels run) they equal
  /// ``sourceLatents`` exactly.
  public var finalLatents: Tensor
  /// The source latents `z_init` `[1, C, h, w]` (scaled).
  public var sourceLatents: Tensor
  /// The seed used (the request's, or the one picked), `nil` when the caller injected the noise source.
  public var seed: UInt64?
  /// The number of denoising steps that ran.
  public var denoisingStepCount: Int
  /// Whether the prompt was truncated to the encoder's context (77 tokens).
  public var promptWasTruncated: Bool
  /// Whether the negative prompt was truncated.
  public var negativePromptWasTruncated: Bool
  /// Seconds per phase.
  public var timings: EditTimings
}
