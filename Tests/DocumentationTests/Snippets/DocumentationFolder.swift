import BlendedLatent
import Foundation
import Networks
import TensorCore

// Twins of the `swift` blocks of Documentation/*.md (see SnippetTests). Compiled, not run.
enum DocumentationFolderSnippets {
  static func cli1(photoURL: URL, maskURL: URL, outputURL: URL) throws {
    // snippet: Documentation/CLI.md #1
    let photo = try RGBImage(contentsOf: photoURL)  // PNG or JPEG
    let pixels = photo.tensor()  // [3, H, W] in [0, 1]
    let mask = try RGBImage(contentsOf: maskURL).luminanceTensor()  // [H, W], white = 1
    let geometry = try EditGeometry.cropToMask(mask, padding: 32, nativeResolution: 512, sizeMultiple: 64)!
    let working = geometry.workingImage(from: pixels)  // [3, h, w] at the model's size
    // … edit `working` …
    let result = geometry.composite(edited: working, into: pixels, mask: mask, policy: .mask(featherRadius: 0))
    try RGBImage(tensor: result).pngData().write(to: outputURL)  // round(255·v), clamped
  }

  static func decoderFineTuning1(
    vae: AutoencoderKL, vaeConfiguration: AutoencoderKLConfiguration, vaeWeights: [String: Tensor], latent: Tensor,
    editedImage: Tensor, originalImage: Tensor, pixelMask: Tensor, cancelled: Bool
  ) throws {
    // snippet: Documentation/DecoderFineTuning.md #1
    // Once per model: a tuner over a loaded VAE (read, never changed; `vae.decoderFineTuner()` does the same) …
    let tuner = try DecoderFineTuner(autoencoder: vae)
    // … or from the VAE config.json and a weights dictionary, strictly: every `decoder.*` and `post_quant_conv.*`
    // parameter must be present with its shape, and every key must name a parameter of the autoencoder.
    let strict = try DecoderFineTuner(configuration: vaeConfiguration, weights: vaeWeights)
    _ = strict

    // Per image: z₀ / scaling_factor → post_quant_conv (frozen) → the decoder input.
    let decoderInput = try tuner.decoderInput(for: latent)
    let result = try tuner.reconstruct(
      decoderInput: decoderInput,  // [N, 4, h, w], AFTER post_quant_conv
      editedImage: editedImage,  // x̂ = D(z₀), [N, 3, 8h, 8w], decoder range ≈ [−1, 1]
      originalImage: originalImage,  // x, same shape and range
      mask: pixelMask,  // [N, 1, 8h, 8w] (or image shape), 1 = edited
      options: .paper  // or .fast, or DecoderFineTuningOptions(iterationCount:learningRate:backgroundWeight:…)
    ) { progress in  // EditProgress: .backgroundReconstruction, completed/total, loss, elapsed
      cancelled ? .stop : .proceed  // ProgressAction; .stop throws DecoderFineTuningError.cancelled
    }
    let image = result.image  // D_θ*(z) (composited with exact original pixels outside the window in crop mode)
    let losses = result.losses  // per iteration; result.finalLoss = L of result.image over the whole image
    let tuned = result.tunedParameters  // every decoder parameter under its checkpoint key (decoder.conv_in.weight, …)
    let costs = result.costs  // seconds per phase and iteration, stored activation bytes, recomputed blocks
    _ = (image, losses, tuned, costs)
  }
}
