import Foundation
import Networks
import TensorCore
import Testing

/// Configurations decode from the JSON diffusers and transformers write, including older files that omit
/// defaulted fields, and reject unsupported values with the file and field.
@Suite("Configurations decode diffusers / transformers JSON")
struct ConfigurationTests {
  /// Writes `json` to a temporary file and returns its URL.
  func temporaryFile(_ json: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "config-\(UUID().uuidString).json")
    try Data(json.utf8).write(to: url)
    return url
  }

  /// `unet/config.json` of stabilityai/stable-diffusion-2-1-base (diffusers 0.10 era: many fields absent).
  static let sd21BaseUNet = """
    {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.10.0.dev0", "act_fn": "silu",
     "attention_head_dim": [5, 10, 20, 20], "block_out_channels": [320, 640, 1280, 1280], "center_input_sample": false,
     "cross_attention_dim": 1024, "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
     "CrossAttnDownBlock2D", "DownBlock2D"], "downsample_padding": 1, "dual_cross_attention": false,
     "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4, "layers_per_block": 2, "mid_block_scale_factor": 1,
     "norm_eps": 1e-05, "norm_num_groups": 32, "out_channels": 4, "sample_size": 64,
     "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
     "use_linear_projection": true}
    """

  @Test func stableDiffusion21BaseUNetConfiguration() throws {
    let url = try temporaryFile(Self.sd21BaseUNet)
    defer { try? FileManager.default.removeItem(at: url) }
    let configuration = try UNetConfiguration.decode(contentsOf: url)
    #expect(configuration.resolvedHeadCounts == [5, 10, 20, 20])
    #expect(configuration.attentionHeadDim[2] == 20)
    #expect(configuration.resolvedTransformerLayers == [1, 1, 1, 1])
    #expect(configuration.resolvedCrossAttentionWidths == [1024, 1024, 1024, 1024])
    #expect(configuration.useLinearProjection == true)
    #expect(configuration.resolvedTimeEmbeddingWidth == 1280)
    #expect(configuration.downBlockTypes == UNetConfiguration.stableDiffusion21Base.downBlockTypes)
    #expect(
      configuration.blockOutChannels == UNetConfiguration.stableDiffusion21Base.blockOutChannels)
  }

  @Test(
    "UNet fields with unsupported values are rejected",
    arguments: [
      ("\"num_attention_heads\": 8", "num_attention_heads"),
      ("\"class_embed_type\": \"timestep\"", "class_embed_type"),
      ("\"addition_embed_type\": \"image\"", "addition_embed_type"),
      ("\"resnet_time_scale_shift\": \"scale_shift\"", "resnet_time_scale_shift"),
      ("\"time_embedding_type\": \"fourier\"", "time_embedding_type"),
      ("\"mid_block_type\": \"UNetMidBlock2DSimpleCrossAttn\"", "mid_block_type"),
      ("\"only_cross_attention\": true", "only_cross_attention"),
      ("\"act_fn\": \"mish\"", "act_fn"),
      ("\"encoder_hid_dim\": 12", "encoder_hid_dim"),
    ])
  func unsupportedUNetField(extra: String, field: String) throws {
    let json = Self.sd21BaseUNet.replacingOccurrences(of: "\"act_fn\": \"silu\",", with: "")
      .replacingOccurrences(
        of: "{\"_class_name\"", with: "{\(extra), \"_class_name\"")
    let url = try temporaryFile(json)
    defer { try? FileManager.default.removeItem(at: url) }
    #expect {
      try UNetConfiguration.decode(contentsOf: url)
    } throws: { error in
      guard case .unsupported(let file, let name, _) = error as? ConfigurationError else {
        return false
      }
      return file == url.path && name == field
    }
  }

  @Test(
    "SDXL's text_time needs its sinusoid width and an add_embedding input wide enough for six of them",
    arguments: [
      ("\"addition_embed_type\": \"text_time\"", "addition_time_embed_dim"),
      ("\"addition_embed_type\": \"text_time\", \"addition_time_embed_dim\": 7", "addition_time_embed_dim"),
      (
        "\"addition_embed_type\": \"text_time\", \"addition_time_embed_dim\": 256, "
          + "\"projection_class_embeddings_input_dim\": 1536", "projection_class_embeddings_input_dim"
      ),
    ])
  func incompleteTextTime(extra: String, field: String) throws {
    let json = Self.sd21BaseUNet.replacingOccurrences(of: "{\"_class_name\"", with: "{\(extra), \"_class_name\"")
    let url = try temporaryFile(json)
    defer { try? FileManager.default.removeItem(at: url) }
    #expect {
      try UNetConfiguration.decode(contentsOf: url)
    } throws: { error in
      guard case .invalid(let file, let name, _) = error as? ConfigurationError else { return false }
      return file == url.path && name == field
    }
  }

  @Test(
    "UNet fields with inconsistent values are rejected",
    arguments: [
      ("[5, 10, 20, 20]", "[5, 10, 20]", "attention_head_dim"),
      ("\"norm_num_groups\": 32", "\"norm_num_groups\": 30", "block_out_channels"),
      ("[5, 10, 20, 20]", "[5, 10, 20, 30]", "attention_head_dim"),
    ])
  func inconsistentUNetField(original: String, replacement: String, field: String) throws {
    let url = try temporaryFile(
      Self.sd21BaseUNet.replacingOccurrences(of: original, with: replacement))
    defer { try? FileManager.default.removeItem(at: url) }
    #expect {
      try UNetConfiguration.decode(contentsOf: url)
    } throws: { error in
      guard case .invalid(_, let name, _) = error as? ConfigurationError else { return false }
      return name == field
    }
  }

  @Test func clipTextConfigurationFromTransformers() throws {
    let url = try temporaryFile(
      """
      {"architectures": ["CLIPTextModel"], "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0,
       "eos_token_id": 2, "hidden_act": "gelu", "hidden_size": 1024, "initializer_factor": 1.0,
       "initializer_range": 0.02, "intermediate_size": 4096, "layer_norm_eps": 1e-05,
       "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 16,
       "num_hidden_layers": 23, "pad_token_id": 1, "projection_dim": 512, "torch_dtype": "float32",
       "transformers_version": "4.25.0.dev0", "vocab_size": 49408}
      """)
    defer { try? FileManager.default.removeItem(at: url) }
    let configuration = try CLIPTextConfiguration.decode(contentsOf: url)
    #expect(configuration == .stableDiffusion21Base)
    #expect(try configuration.activation() == .gelu)
    #expect(try CLIPTextConfiguration.stableDiffusion15.activation() == .quickGELU)
  }

  @Test func autoencoderConfiguration() throws {
    let url = try temporaryFile(
      """
      {"_class_name": "AutoencoderKL", "_diffusers_version": "0.10.0.dev0", "act_fn": "silu",
       "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D",
       "DownEncoderBlock2D", "DownEncoderBlock2D"], "in_channels": 3, "latent_channels": 4, "layers_per_block": 2,
       "norm_num_groups": 32, "out_channels": 3, "sample_size": 768, "up_block_types": ["UpDecoderBlock2D",
       "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}
      """)
    defer { try? FileManager.default.removeItem(at: url) }
    let configuration = try AutoencoderKLConfiguration.decode(contentsOf: url)
    #expect(configuration.resolvedScalingFactor == 0.18215)
    #expect(configuration.midBlockAddAttention == nil)
    #expect(configuration.downsamplingFactor == 8)
    #expect(
      configuration.blockOutChannels == AutoencoderKLConfiguration.stableDiffusion.blockOutChannels)
  }

  @Test func malformedJSONIsUnreadable() throws {
    let url = try temporaryFile("{\"block_out_channels\": [32, ")
    defer { try? FileManager.default.removeItem(at: url) }
    #expect {
      try UNetConfiguration.decode(contentsOf: url)
    } throws: { error in
      guard case .unreadable(let file, _) = error as? ConfigurationError else { return false }
      return file == url.path
    }
  }

  @Test func perBlockDecodesIntOrList() throws {
    let decoder = JSONDecoder()
    #expect(try decoder.decode(PerBlock<Int>.self, from: Data("8".utf8)) == .uniform(8))
    #expect(
      try decoder.decode(PerBlock<Int>.self, from: Data("[5, 10]".utf8)) == .perBlock([5, 10]))
    #expect(PerBlock<Int>.uniform(8).values(count: 3) == [8, 8, 8])
  }

  @Test func presetsAreValid() throws {
    try UNetConfiguration.stableDiffusion15.validate()
    try UNetConfiguration.stableDiffusion21Base.validate()
    try UNetConfiguration.tiny.validate()
    try AutoencoderKLConfiguration.stableDiffusion.validate()
    try CLIPTextConfiguration.stableDiffusion15.validate()
  }
}
