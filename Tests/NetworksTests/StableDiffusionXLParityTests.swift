import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// The tiny SDXL folder written by `Tests/Reference/make_sdxl_fixtures.py`, loaded through the real folder loader,
/// matches diffusers and transformers: both text encoders (penultimate hidden states, the pooled outputs under both
/// end-of-text rules, the projection), the UNet with `text_time` addition embeddings, and the VAE.
@Suite("SDXL networks match diffusers and transformers")
struct StableDiffusionXLParityTests {
  static let tolerance = 1e-4

  static func fixture() throws -> (model: StableDiffusionModel, io: SafetensorsFile) {
    let fixture = try NetworkFixture("sdxl-tiny")
    return (try StableDiffusionModel(directory: fixture.directory), fixture.io)
  }

  static func ids(_ tensor: Tensor) -> [[Int]] {
    let length = tensor.shape[1]
    return (0..<tensor.shape[0]).map { row in (0..<length).map { Int(tensor.scalars[row * length + $0]) } }
  }

  static func expectClose(_ actual: Tensor, _ expected: Tensor, _ what: String) {
    let comparison = TensorComparison(actual, expected)
    #expect(comparison.isClose(relative: tolerance), "\(what): \(comparison)")
  }

  @Test("the folder loads both text encoders, both tokenizers and the text_time UNet")
  func loads() throws {
    let (model, _) = try Self.fixture()
    #expect(model.secondTextEncoder != nil && model.secondTokenizer != nil && model.forcesZerosForEmptyPrompt)
    #expect(model.unet.configuration.additionEmbedType == "text_time")
    #expect(model.loadReports.keys.sorted() == ["text_encoder", "text_encoder_2", "unet", "vae"])
  }

  @Test("both text encoders: penultimate hidden states and pooled outputs")
  func textEncoders() throws {
    let (model, io) = try Self.fixture()
    let first = model.textEncoder.encode(Self.ids(try io.tensor(named: "te1.input_ids")))
    Self.expectClose(first.lastHiddenState, try io.tensor(named: "te1.last_hidden_state"), "te1 last")
    Self.expectClose(first.penultimateHiddenState, try io.tensor(named: "te1.penultimate"), "te1 penultimate")
    Self.expectClose(first.pooled, try io.tensor(named: "te1.pooled"), "te1 pooled (largest id)")
    let encoder = try #require(model.secondTextEncoder)
    let second = encoder.encode(Self.ids(try io.tensor(named: "te2.input_ids")))
    Self.expectClose(second.penultimateHiddenState, try io.tensor(named: "te2.penultimate"), "te2 penultimate")
    Self.expectClose(second.pooled, try io.tensor(named: "te2.text_embeds"), "te2 projected pooled (first EOS)")
  }

  @Test("the UNet with text_time addition embeddings, and the VAE")
  func unetAndAutoencoder() throws {
    let (model, io) = try Self.fixture()
    let output = model.unet(
      try io.tensor(named: "unet.sample"), timestep: 500, encoderHiddenStates: try io.tensor(named: "unet.context"),
      addedConditions: AddedConditions(
        textEmbeddings: try io.tensor(named: "unet.text_embeds"), timeIDs: try io.tensor(named: "unet.time_ids")))
    Self.expectClose(output, try io.tensor(named: "unet.output"), "unet")
    Self.expectClose(model.vae.decode(try io.tensor(named: "vae.latents")), try io.tensor(named: "vae.decoded"), "vae")
  }
}
