import Networks
import TensorCore

/// Stable Diffusion's text conditioning: the CLIP tokenizer followed by the CLIP text encoder's last hidden
/// state, as diffusers' `encode_prompt` computes it without clip-skip.
///
/// Matches: diffusers `StableDiffusionPipeline.encode_prompt` (`padding="max_length"`, `truncation=True`,
/// no attention mask). Limitations: no clip-skip, no prompt weighting, prompts beyond the tokenizer's
/// length are truncated (and reported in ``TextConditioning/truncated``).
public struct CLIPTextConditioning: TextEncoding {
  /// The tokenizer of the model folder.
  public let tokenizer: CLIPTokenizer
  /// The text encoder.
  public let textEncoder: CLIPTextModel

  /// Pairs a tokenizer with a text encoder.
  public init(tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel) {
    self.tokenizer = tokenizer
    self.textEncoder = textEncoder
  }

  /// Encodes prompts to `[N, maxLength, hidden]`, reporting which prompts were truncated and their characters
  /// that did not reach the encoder as written.
  public func encode(_ prompts: [String]) throws -> TextConditioning {
    let tokenized = prompts.map { tokenizer.encode($0) }
    return TextConditioning(
      embeddings: textEncoder(tokenized.map(\.ids)), truncated: tokenized.map(\.wasTruncated),
      unencodedCharacters: tokenized.map(\.unencodedCharacters))
  }
}
