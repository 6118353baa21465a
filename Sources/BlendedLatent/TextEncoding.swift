import TensorCore

/// Text conditioning for a batch of prompts.
public struct TextConditioning: Sendable {
  /// The encoder's last hidden states `[N, 77, D]`, one row per prompt, in prompt order.
  public var embeddings: Tensor
  /// For each prompt, whether its tokens were cut to fit the 77-token context.
  public var truncated: [Bool]

  /// Creates conditioning from embeddings and per-prompt truncation flags.
  /// - Parameters:
  ///   - embeddings: `[N, 77, D]`.
  ///   - truncated: N flags.
  public init(embeddings: Tensor, truncated: [Bool]) {
    self.embeddings = embeddings
    self.truncated = truncated
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
