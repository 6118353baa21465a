import Foundation
import TensorCore

/// A single-file Stable Diffusion checkpoint in the original LDM layout (what AUTOMATIC1111, ComfyUI and most model
/// sites use): every network in one `.safetensors` file, under `model.diffusion_model.` (UNet),
/// `first_stage_model.` (VAE) and `cond_stage_model.` (text encoder).
///
/// Loading is strict, as for folders: every parameter of a network must be found at its LDM key (see
/// `LDMKeyTable`) with its shape, and every tensor in the file must be used by a network or be ignored by one of
/// the rules of ``ignoredReason(for:)`` — training leftovers that no loader uses. Tensors stay in the mapped file
/// by default, including the thirds of OpenCLIP's fused query/key/value projections.
public final class SingleFileCheckpoint: Sendable {
  /// The networks of a checkpoint, with the key prefix each lives under.
  public enum Component: String, Sendable, CaseIterable {
    /// The UNet (`model.diffusion_model.`).
    case unet
    /// The VAE (`first_stage_model.`).
    case vae
    /// The text encoder (`cond_stage_model.transformer.` for CLIP ViT-L, `cond_stage_model.model.` for OpenCLIP).
    case textEncoder = "text_encoder"
  }

  /// The file.
  public let url: URL
  /// The opened, validated file.
  public let file: SafetensorsFile
  /// What the checkpoint holds, decided from its keys and shapes.
  public let family: CheckpointFamily

  /// Opens a checkpoint and decides its family; pickle files are refused before anything is read.
  /// - Throws: ``SingleFileCheckpointError``: `.pickleFile`, `.unreadable` (not a valid safetensors file, e.g.
  ///   truncated), `.unknownLayout` (no Stable Diffusion UNet, or an unsupported width).
  public init(contentsOf url: URL) throws(SingleFileCheckpointError) {
    try CheckpointFamily.refusePickle(url)
    let file: SafetensorsFile
    do { file = try SafetensorsFile(contentsOf: url) } catch let error as SafetensorsError {
      throw .unreadable(file: url.path, underlying: error)
    } catch {
      throw .unreadable(file: url.path, underlying: .unreadable(file: url.path, reason: "\(error)"))
    }
    self.url = url
    self.file = file
    family = try CheckpointFamily.detect(shapes: file.entries.mapValues(\.shape), file: url.path)
  }

  /// The key prefix of a component in this checkpoint.
  public func prefix(of component: Component) -> String {
    switch component {
    case .unet: "model.diffusion_model."
    case .vae: "first_stage_model."
    case .textEncoder:
      family.generation == .stableDiffusion1 ? "cond_stage_model.transformer." : "cond_stage_model.model."
    }
  }

  /// Where each parameter of the UNet is in the file.
  func sources(for unet: UNet2DConditionModel) -> [String: TensorSource] {
    sources(for: unet, table: .unet(unet.configuration), component: .unet)
  }

  /// Where each parameter of the VAE is in the file.
  func sources(for vae: AutoencoderKL) -> [String: TensorSource] {
    sources(for: vae, table: .autoencoder(vae.configuration), component: .vae)
  }

  /// Where each parameter of the text encoder is in the file.
  func sources(for textEncoder: CLIPTextModel) -> [String: TensorSource] {
    let table: LDMKeyTable
    if family.generation == .stableDiffusion1 {
      let underTextModel = file.entries.keys.contains { $0.hasPrefix(prefix(of: .textEncoder) + "text_model.") }
      table = .clipTextModel(keysUnderTextModel: underTextModel)
    } else {
      table = .openCLIPTextModel(textEncoder.configuration)
    }
    return sources(for: textEncoder, table: table, component: .textEncoder)
  }

  private func sources(for network: any Layer, table: LDMKeyTable, component: Component) -> [String: TensorSource] {
    let prefix = prefix(of: component)
    var sources: [String: TensorSource] = [:]
    for entry in network.parameterEntries {
      let (key, view) = table.ldmKey(for: entry.key) ?? (entry.key, .whole)
      sources[entry.key] = TensorSource(file: file, key: prefix + key, view: view)
    }
    return sources
  }

  /// Why a tensor no network uses may be left in the file, or `nil` if it must be used. The rules, as
  /// established loaders apply them:
  /// - `model_ema.…`: the exponential-moving-average copy of the UNet that training checkpoints carry;
  /// - the training noise schedule (`betas`, `alphas_cumprod`, `posterior_…`, …; the scheduler configuration
  ///   gives it) and `logvar`;
  /// - the text encoder's `position_ids` buffer;
  /// - OpenCLIP's layers after the last one the text encoder runs (SD 2.x uses the penultimate layer's output),
  ///   its `text_projection` when the encoder has none, and `logit_scale` (only for image–text similarity).
  /// - Parameters:
  ///   - key: the file's key.
  ///   - textEncoderLayers: the number of layers the text encoder runs.
  ///   - usesTextProjection: whether the text encoder loads `text_projection`.
  public func ignoredReason(for key: String, textEncoderLayers: Int, usesTextProjection: Bool = false) -> String? {
    if key.hasPrefix("model_ema.") { return "EMA copy of the UNet" }
    if Self.trainingSchedule.contains(key) { return "training noise schedule" }
    let text = prefix(of: .textEncoder)
    guard key.hasPrefix(text) else { return nil }
    let leaf = key.dropFirst(text.count)
    if leaf == "text_model.embeddings.position_ids" || leaf == "embeddings.position_ids" {
      return "position-id buffer"
    }
    guard family.generation != .stableDiffusion1 else { return nil }
    if leaf == "logit_scale" || (leaf == "text_projection" && !usesTextProjection) {
      return "image-text similarity head"
    }
    let resblocks = "transformer.resblocks."
    if leaf.hasPrefix(resblocks), let layer = Int(leaf.dropFirst(resblocks.count).prefix { $0 != "." }),
      layer >= textEncoderLayers
    {
      return "text encoder layer after the last one used"
    }
    return nil
  }

  /// The LDM training buffers of the noise schedule.
  private static let trainingSchedule: Set<String> = [
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
    "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
    "logvar", "lvlb_weights",
  ]
}
