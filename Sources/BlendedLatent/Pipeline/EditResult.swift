import Networks
import TensorCore

/// Time spent in each phase of an edit.
public struct EditTimings: Sendable, Equatable {
  /// Input checks, padding and mask preparation.
  public var preparation: Duration = .zero
  /// Prompt encoding.
  public var textEncoding: Duration = .zero
  /// Source image encoding.
  public var imageEncoding: Duration = .zero
  /// The denoising loop.
  public var denoising: Duration = .zero
  /// Decoding all results.
  public var decoding: Duration = .zero
  /// Background handling.
  public var background: Duration = .zero
  /// Scoring and ordering the results (zero without a ranker).
  public var ranking: Duration = .zero
  /// The whole edit.
  public var total: Duration = .zero

  /// All zero.
  public init() {}

  /// The phases by the names `bld --json` reports them under, in seconds.
  public var secondsByPhase: [String: Double] {
    [
      "preparation": preparation / .seconds(1), "text_encoding": textEncoding / .seconds(1),
      "image_encoding": imageEncoding / .seconds(1), "denoising": denoising / .seconds(1),
      "decoding": decoding / .seconds(1),
      "background": background / .seconds(1), "ranking": ranking / .seconds(1), "total": total / .seconds(1),
    ]
  }
}

/// The outcome of an edit.
public struct EditResult: Sendable {
  /// The B edited images, each `[3, H, W]` RGB in [0, 1] at the request's size (not quantised; `Documentation/Method.md`'s 8-bit
  /// values are `round(255 · v)`). In batch order, or best first when a ranker ran (see ``rankedOrder``).
  public var images: [Tensor]
  /// Ranking scores of ``images``, element for element (CLIP distance, lower is better), in ascending order,
  /// when a ranker ran; `nil` otherwise.
  public var scores: [Float]?
  /// When a ranker ran, the batch index of each of ``images``: `images[k]` is the result decoded from
  /// `finalLatents[rankedOrder[k]]` (``finalLatents`` stay in batch order). `nil` without a ranker.
  public var rankedOrder: [Int]?
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
  /// The prompt's characters that did not reach the text encoder as written (U+FFFD from invalid UTF-8,
  /// characters the vocabulary cannot represent); empty when there are none or the encoder does not report them.
  public var promptUnencodedCharacters: UnencodedCharacters
  /// The negative prompt's characters that did not reach the text encoder as written.
  public var negativePromptUnencodedCharacters: UnencodedCharacters
  /// Time per phase.
  public var timings: EditTimings

  /// Creates a result (the editor builds them; tests and fakes of the editor's users may too).
  public init(
    images: [Tensor], scores: [Float]? = nil, rankedOrder: [Int]? = nil, latentMask: Tensor, finalLatents: Tensor,
    sourceLatents: Tensor, seed: UInt64? = nil, denoisingStepCount: Int, promptWasTruncated: Bool = false,
    negativePromptWasTruncated: Bool = false, timings: EditTimings = EditTimings(),
    promptUnencodedCharacters: UnencodedCharacters = UnencodedCharacters(),
    negativePromptUnencodedCharacters: UnencodedCharacters = UnencodedCharacters()
  ) {
    self.images = images
    self.scores = scores
    self.rankedOrder = rankedOrder
    self.latentMask = latentMask
    self.finalLatents = finalLatents
    self.sourceLatents = sourceLatents
    self.seed = seed
    self.denoisingStepCount = denoisingStepCount
    self.promptWasTruncated = promptWasTruncated
    self.negativePromptWasTruncated = negativePromptWasTruncated
    self.promptUnencodedCharacters = promptUnencodedCharacters
    self.negativePromptUnencodedCharacters = negativePromptUnencodedCharacters
    self.timings = timings
  }
}
