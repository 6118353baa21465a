import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// A configuration number that disagrees with the weights is refused before any network is allocated, with an
/// error naming the configuration file, the field, the tensor and both shapes (copies of the tiny fixture folders
/// with one number changed).
@Suite("Configurations are checked against the weight shapes before loading")
struct ConfigurationWeightCheckTests {
  /// A copy of a fixture folder with `edit` applied to one `config.json`.
  func folder(
    _ fixture: String, _ configuration: (ModelDirectory) -> URL, _ edit: (inout [String: Any]) -> Void
  ) throws -> ModelDirectory {
    let directory = try NetworkFixture(fixture).temporaryCopy()
    let url = configuration(directory)
    var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    edit(&object)
    try JSONSerialization.data(withJSONObject: object).write(to: url)
    return directory
  }

  /// Loads `directory` expecting `ConfigurationError.contradictedByWeights` for `component`; returns it.
  func contradiction(_ directory: ModelDirectory, component: String, sourceLocation: SourceLocation = #_sourceLocation)
    -> (error: ModelLoadingError, field: String, key: String, expected: [Int]?, found: [Int]?)?
  {
    do {
      _ = try StableDiffusionModel(directory: directory)
      Issue.record("the folder loaded", sourceLocation: sourceLocation)
    } catch {
      guard
        case .configuration(.contradictedByWeights(_, let field, _, let key, _, let expected, let found)) = error.cause
      else {
        Issue.record("expected contradictedByWeights, got \(error)", sourceLocation: sourceLocation)
        return nil
      }
      #expect(error.component == component, "\(error)", sourceLocation: sourceLocation)
      #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
      return (error, field, key, expected, found)
    }
    return nil
  }

  @Test func unetBlockOutChannels() throws {
    let directory = try folder("sd2-tiny", \.unetConfiguration) { $0["block_out_channels"] = [24, 16, 32] }
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let result = try #require(contradiction(directory, component: "unet"))
    #expect(result.field == "block_out_channels" && result.key == "conv_in.weight")
    #expect(result.expected == [24, 4, 3, 3] && result.found == [16, 4, 3, 3])
    let description = result.error.description
    #expect(description.contains(directory.unetConfiguration.path), "\(description)")
    #expect(
      description.contains(
        "'block_out_channels' [24, 16, 32] disagrees with the weights: 'conv_in.weight' in "
          + "\(try directory.unetWeights().urls[0].path) has shape [16, 4, 3, 3], but the configuration implies "
          + "[24, 4, 3, 3]"), "\(description)")
  }

  @Test func unetCrossAttentionWidthAgreeingWithTheTextEncoderButNotTheWeights() throws {
    let directory = try folder("sd2-tiny", \.unetConfiguration) { $0["cross_attention_dim"] = 48 }
    defer { try? FileManager.default.removeItem(at: directory.root) }
    var text = try #require(
      JSONSerialization.jsonObject(with: Data(contentsOf: directory.textEncoderConfiguration)) as? [String: Any])
    text["hidden_size"] = 48
    try JSONSerialization.data(withJSONObject: text).write(to: directory.textEncoderConfiguration)
    // The UNet is checked first: its cross-attention key projection is [16, 24] in the weights.
    let result = try #require(contradiction(directory, component: "unet"))
    #expect(result.field == "cross_attention_dim")
    #expect(result.key == "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight")
    #expect(result.expected == [16, 48] && result.found == [16, 24])
  }

  @Test func textEncoderHiddenSize() throws {
    let directory = try folder("sd2-tiny", \.textEncoderConfiguration) {
      $0["hidden_size"] = 30
      $0["projection_dim"] = 30
    }
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let result = try #require(contradiction(directory, component: "text_encoder"))
    #expect(result.field == "hidden_size" && result.key == "text_model.embeddings.token_embedding.weight")
    #expect(result.expected == [1000, 30] && result.found == [1000, 24])
  }

  @Test func textEncoderLayerCount() throws {
    let directory = try folder("sd2-tiny", \.textEncoderConfiguration) { $0["num_hidden_layers"] = 40 }
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let result = try #require(contradiction(directory, component: "text_encoder"))
    #expect(result.field == "num_hidden_layers" && result.expected == nil && result.found == nil)
    #expect(result.key == "text_model.encoder.layers.39.layer_norm1.weight")
    #expect(result.error.description.contains("which"), "\(result.error)")
  }

  @Test func unetLayersPerBlock() throws {
    let directory = try folder("sd1-tiny", \.unetConfiguration) { $0["layers_per_block"] = 7 }
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let result = try #require(contradiction(directory, component: "unet"))
    #expect(result.field == "layers_per_block" && result.key == "down_blocks.0.resnets.6.conv1.weight")
  }

  @Test func autoencoderLatentChannels() throws {
    let directory = try folder("sd2-tiny", \.vaeConfiguration) { $0["latent_channels"] = 8 }
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let result = try #require(contradiction(directory, component: "vae"))
    #expect(result.field == "latent_channels" && result.key == "decoder.conv_in.weight")
    #expect(result.expected == [32, 8, 3, 3] && result.found == [32, 4, 3, 3])
  }

  @Test(
    "the unchanged fixture folders pass the check", arguments: ["sd1-tiny", "sd2-tiny", "sdxl-tiny", "custom-tiny"])
  func unchangedFoldersLoad(fixture: String) throws {
    _ = try StableDiffusionModel(directory: NetworkFixture(fixture).directory)
  }
}
