import Networks
import TensorCore

/// Text conditioning for a batch of prompts.
public struct TextConditioning: Sendable {
  /// The encoder's last hidden states `[N, 77, D]`, one row per prompt, in prompt order.
  public var embeddings: Tensor
  /// For each prompt, whether its tokens were cut to fit the 77-token context.
  public var truncated: [Bool]
  /// For each prompt, its characters that did not reach the encoder as written (U+FFFD, characters the
  /// vocabulary cannot represent); empty when the encoder does not report them.
  public var unencodedCharacters: [UnencodedCharacters]
  /// SDXL's pooled, projected text embeddings `[N, P]`, one row per prompt, or `nil` (SD 1.x / 2.x). When set,
  /// the editor passes them to the noise predictor with the size/crop ids (``AddedConditions``).
  public var pooledEmbeddings: Tensor?

  /// Creates conditioning from embeddings and per-prompt truncation flags.
  /// - Parameters:
  ///   - embeddings: `[N, 77, D]`.
  ///   - truncated: N flags.
  ///   - pooledEmbeddings: `[N, P]` for SDXL, else `nil`.
  ///   - unencodedCharacters: N reports, or none.
  public init(
    embeddings: Tensor, truncated: [Bool], pooledEmbeddings: Tensor? = nil,
    unencodedCharacters: [UnencodedCharacters] = []
  ) {
    self.embeddings = embeddings
    self.truncated = truncated
    self.pooledEmbeddings = pooledEmbeddings
    self.unencodedCharacters = unencodedCharacters
  }
}

/// The text encoder with its tokenizer: prompts → conditioning (CLIP `CLIPTextModel` + `CLIPTokenizer`).
///
/// Prompts longer than the context are truncated (start and end tokens kept), as diffusers does, and reported.
public protocol TextEncoding: Sendable {
  /// Encodes prompts (the empty string is the unconditional prompt).
  /// - Parameter prompts: The prompts, in batch order.
  /// - Returns: Conditioning `[prompts.count, 77, D]` and per-prompt truncation flags.
  /// - Throws: Conformers' own errors if encoding fails.
  func encode(_ prompts: [String]) throws -> TextConditioning
}
