import Networks
import TensorCore

/// SDXL's text conditioning: each prompt through both tokenizers and text encoders, the penultimate hidden states
/// of the two concatenated (768 + 1280 = 2048 wide for SDXL), and the second encoder's projected pooled output.
///
/// Matches: diffusers `StableDiffusionXLPipeline.encode_prompt` with the same prompt for both encoders and no
/// clip-skip; with `force_zeros_for_empty_prompt` (SDXL's default) an empty prompt — the empty negative prompt —
/// gives zero embeddings and a zero pooled vector, as diffusers does for `negative_prompt=None`.
/// Limitations: no separate `prompt_2`, no prompt weighting; prompts beyond 77 tokens are truncated and reported.
public struct StableDiffusionXLTextConditioning: TextEncoding {
  /// The first tokenizer (CLIP ViT-L's).
  public let tokenizer: CLIPTokenizer
  /// The first text encoder (CLIP ViT-L).
  public let textEncoder: CLIPTextModel
  /// The second tokenizer (OpenCLIP's, padding with `!`).
  public let secondTokenizer: CLIPTokenizer
  /// The second text encoder (OpenCLIP ViT-bigG with its projection).
  public let secondTextEncoder: CLIPTextModelWithProjection
  /// Whether empty prompts are encoded as zeros.
  public let forcesZerosForEmptyPrompt: Bool

  /// Pairs the two tokenizers with their encoders.
  public init(
    tokenizer: CLIPTokenizer, textEncoder: CLIPTextModel, secondTokenizer: CLIPTokenizer,
    secondTextEncoder: CLIPTextModelWithProjection, forcesZerosForEmptyPrompt: Bool
  ) {
    self.tokenizer = tokenizer
    self.textEncoder = textEncoder
    self.secondTokenizer = secondTokenizer
    self.secondTextEncoder = secondTextEncoder
    self.forcesZerosForEmptyPrompt = forcesZerosForEmptyPrompt
  }

  /// Encodes prompts to `[N, 77, D₁ + D₂]` with pooled embeddings `[N, P]`, reporting truncation and characters
  /// that did not reach the encoders as written by either tokenizer.
  public func encode(_ prompts: [String]) throws -> TextConditioning {
    let first = prompts.map { tokenizer.encode($0) }
    let second = prompts.map { secondTokenizer.encode($0) }
    let firstOutput = textEncoder.encode(first.map(\.ids))
    let secondOutput = secondTextEncoder.encode(second.map(\.ids))
    var embeddings = Tensor.concatenated(
      [firstOutput.penultimateHiddenState, secondOutput.penultimateHiddenState], axis: 2)
    var pooled = secondOutput.pooled
    if forcesZerosForEmptyPrompt {
      let (length, width, pooledWidth) = (embeddings.shape[1], embeddings.shape[2], pooled.shape[1])
      for (row, prompt) in prompts.enumerated() where prompt.isEmpty {
        embeddings.withUnsafeMutableBufferPointer { values in
          for index in row * length * width..<(row + 1) * length * width { values[index] = 0 }
        }
        pooled.withUnsafeMutableBufferPointer { values in
          for index in row * pooledWidth..<(row + 1) * pooledWidth { values[index] = 0 }
        }
      }
    }
    return TextConditioning(
      embeddings: embeddings, truncated: zip(first, second).map { $0.wasTruncated || $1.wasTruncated },
      pooledEmbeddings: pooled,
      unencodedCharacters: zip(first, second).map { $0.unencodedCharacters.merged(with: $1.unencodedCharacters) })
  }
}
