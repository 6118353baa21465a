import Foundation
import TensorCore

/// What a single-file checkpoint holds, decided from its tensor names and shapes alone (no weights are read), as
/// the established loaders (diffusers' `from_single_file`, AUTOMATIC1111) decide it.
///
/// - SDXL: keys under `conditioner.embedders.` (its two text encoders).
/// - SD 1.x / 2.x: the text encoder's layout — CLIP ViT-L under `cond_stage_model.transformer.` (SD 1.x) or
///   OpenCLIP under `cond_stage_model.model.` (SD 2.x) — or, in a file without one, the UNet's cross-attention
///   width, the second dimension of any `model.diffusion_model.…attn2.to_k.weight`: 768 (SD 1.x) or 1024 (SD 2.x).
/// - Inpainting: the UNet's first convolution `model.diffusion_model.input_blocks.0.0.weight` takes 9 input
///   channels (latents, masked-image latents, mask) instead of 4.
public struct CheckpointFamily: Sendable, Equatable, CustomStringConvertible {
  /// The model generation.
  public enum Generation: String, Sendable, Equatable {
    /// Stable Diffusion 1.x (CLIP ViT-L text encoder, cross-attention width 768).
    case stableDiffusion1 = "Stable Diffusion 1.x"
    /// Stable Diffusion 2.x (OpenCLIP ViT-H text encoder, cross-attention width 1024).
    case stableDiffusion2 = "Stable Diffusion 2.x"
    /// Stable Diffusion XL (two text encoders, cross-attention width 2048).
    case stableDiffusionXL = "Stable Diffusion XL"
  }

  /// The generation.
  public var generation: Generation
  /// The UNet's input channels: 4, or 9 for inpainting models.
  public var unetInputChannels: Int
  /// The width of the text context the UNet attends to.
  public var crossAttentionWidth: Int

  /// Whether the UNet is an inpainting UNet (9 input channels).
  public var isInpainting: Bool { unetInputChannels == 9 }

  /// E.g. "Stable Diffusion 2.x inpainting (cross-attention 1024)".
  public var description: String {
    "\(generation.rawValue)\(isInpainting ? " inpainting" : "") (cross-attention \(crossAttentionWidth))"
  }

  /// Creates a family description.
  public init(generation: Generation, unetInputChannels: Int, crossAttentionWidth: Int) {
    self.generation = generation
    self.unetInputChannels = unetInputChannels
    self.crossAttentionWidth = crossAttentionWidth
  }

  /// The key of the UNet's first convolution in the LDM layout.
  static let unetInputKey = "model.diffusion_model.input_blocks.0.0.weight"

  /// Decides the family from tensor names and shapes.
  /// - Parameters:
  ///   - shapes: every tensor's shape by key.
  ///   - file: a name for errors.
  /// - Throws: ``SingleFileCheckpointError/unknownLayout(file:reason:keys:)`` naming the keys that decided it.
  public static func detect(shapes: [String: [Int]], file: String) throws(SingleFileCheckpointError) -> Self {
    let sampleKeys = Array(shapes.keys.sorted().prefix(5))
    guard let inputShape = shapes[unetInputKey] else {
      throw .unknownLayout(file: file, reason: "no UNet under model.diffusion_model.", keys: sampleKeys)
    }
    guard inputShape.count == 4, [4, 9].contains(inputShape[1]) else {
      throw .unknownLayout(
        file: file, reason: "the UNet's first convolution has shape \(inputShape), expected 4 or 9 input channels",
        keys: [unetInputKey])
    }
    let attentionKeys = shapes.keys.filter {
      $0.hasPrefix("model.diffusion_model.") && $0.hasSuffix(".attn2.to_k.weight")
    }.sorted()
    guard let attentionKey = attentionKeys.first, let keyShape = shapes[attentionKey], keyShape.count == 2 else {
      throw .unknownLayout(file: file, reason: "the UNet has no cross-attention (attn2.to_k)", keys: [unetInputKey])
    }
    let width = keyShape[1]
    let generation: Generation
    if shapes.keys.contains(where: { $0.hasPrefix("conditioner.embedders.") }) {
      generation = .stableDiffusionXL
    } else if shapes.keys.contains(where: { $0.hasPrefix("cond_stage_model.model.") }) {
      generation = .stableDiffusion2
    } else if shapes.keys.contains(where: { $0.hasPrefix("cond_stage_model.transformer.") }) {
      generation = .stableDiffusion1
    } else if width == 768 {
      generation = .stableDiffusion1
    } else if width == 1024 {
      generation = .stableDiffusion2
    } else {
      throw .unknownLayout(
        file: file, reason: "cross-attention width \(width) is neither 768 (SD 1.x) nor 1024 (SD 2.x)",
        keys: [attentionKey])
    }
    return CheckpointFamily(generation: generation, unetInputChannels: inputShape[1], crossAttentionWidth: width)
  }

  /// Reads a `.safetensors` checkpoint's header and decides its family. Pickle files are refused by their
  /// extension or their first bytes, before anything else is read.
  /// - Throws: ``SingleFileCheckpointError``.
  public init(contentsOf url: URL) throws(SingleFileCheckpointError) {
    try Self.refusePickle(url)
    let file: SafetensorsFile
    do { file = try SafetensorsFile(contentsOf: url) } catch let error as SafetensorsError {
      throw .unreadable(file: url.path, underlying: error)
    } catch {
      throw .unreadable(file: url.path, underlying: .unreadable(file: url.path, reason: "\(error)"))
    }
    self = try Self.detect(shapes: file.entries.mapValues(\.shape), file: url.path)
  }

  /// Throws ``SingleFileCheckpointError/pickleFile(file:)`` for `.ckpt`/`.pt`/`.pth`/`.bin` names and for files
  /// that are not safetensors (whose JSON header starts at byte 8) but start like a zip archive (PyTorch's format
  /// since 1.6) or a pickle stream.
  static func refusePickle(_ url: URL) throws(SingleFileCheckpointError) {
    if ["ckpt", "pt", "pth", "bin"].contains(url.pathExtension.lowercased()) { throw .pickleFile(file: url.path) }
    // Only a regular file is opened (a FIFO would block the open); anything else is the reader's to report.
    guard let (descriptor, _) = try? RegularFile.open(url.path) else { return }
    defer { close(descriptor) }
    var buffer = [UInt8](repeating: 0, count: 9)
    let count = read(descriptor, &buffer, 9)
    let start = Array(buffer.prefix(max(0, count)))
    let isSafetensors = start.count == 9 && start[8] == UInt8(ascii: "{")
    let looksPickled = start.starts(with: Array("PK".utf8)) || start.first == 0x80
    if !isSafetensors && looksPickled { throw .pickleFile(file: url.path) }
  }
}
