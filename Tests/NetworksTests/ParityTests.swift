import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// The three networks loaded through the real loader from tiny diffusers folders match diffusers /
/// transformers outputs stored by `Tests/Reference/make_network_fixtures.py`.
@Suite("Networks match diffusers and transformers on tiny SD 1.x / 2.x folders")
struct ParityTests {
  static let tolerance = 1e-4

  @Test("CLIPTextModel last_hidden_state", arguments: NetworkFixture.names)
  func textEncoder(name: String) throws {
    let fixture = try NetworkFixture(name)
    let directory = fixture.directory
    let model = try CLIPTextModel(
      configuration: .decode(contentsOf: directory.textEncoderConfiguration))
    try WeightLoader.load(directory.textEncoderWeights(), into: model, renaming: .clipTextModel)
    let output = model(try fixture.tokenIDs())
    let comparison = TensorComparison(output, try fixture.tensor("clip.last_hidden_state"))
    #expect(comparison.isClose(relative: Self.tolerance), "\(name): \(comparison)")
  }

  @Test("AutoencoderKL encode and decode", arguments: NetworkFixture.names)
  func autoencoder(name: String) throws {
    let fixture = try NetworkFixture(name)
    let directory = fixture.directory
    let vae = try AutoencoderKL(configuration: .decode(contentsOf: directory.vaeConfiguration))
    try WeightLoader.load(directory.vaeWeights(), into: vae)
    let (mean, logVariance) = vae.encode(try fixture.tensor("vae.image"))
    let meanComparison = TensorComparison(mean, try fixture.tensor("vae.mean"))
    let varianceComparison = TensorComparison(logVariance, try fixture.tensor("vae.logvar"))
    #expect(meanComparison.isClose(relative: Self.tolerance), "\(name) mean: \(meanComparison)")
    #expect(
      varianceComparison.isClose(relative: Self.tolerance), "\(name) logvar: \(varianceComparison)")
    let decoded = vae.decode(try fixture.tensor("vae.latents"))
    let decodeComparison = TensorComparison(decoded, try fixture.tensor("vae.decoded"))
    #expect(
      decodeComparison.isClose(relative: Self.tolerance), "\(name) decode: \(decodeComparison)")
    let expected: [String: (scale: Float, channels: Int, factor: Int)] = [
      "sd1-tiny": (0.18215, 4, 2), "sd2-tiny": (0.18215, 4, 4), "custom-tiny": (0.5, 6, 4),
    ]
    let properties = try #require(expected[name])
    #expect(vae.scalingFactor == properties.scale)
    #expect(
      vae.latentChannels == properties.channels && vae.downsamplingFactor == properties.factor)
  }

  @Test(
    "UNet2DConditionModel noise prediction at two timesteps, batch 2",
    arguments: NetworkFixture.names)
  func unet(name: String) throws {
    let fixture = try NetworkFixture(name)
    let directory = fixture.directory
    let unet = try UNet2DConditionModel(
      configuration: .decode(contentsOf: directory.unetConfiguration))
    try WeightLoader.load(directory.unetWeights(), into: unet)
    let sample = try fixture.tensor("unet.sample")
    let context = try fixture.tensor("unet.encoder_hidden_states")
    let timesteps = try fixture.tensor("unet.timesteps").scalars
    #expect(timesteps.count == 2)
    for (index, timestep) in timesteps.enumerated() {
      let output = unet(sample, timestep: Double(timestep), encoderHiddenStates: context)
      let comparison = TensorComparison(output, try fixture.tensor("unet.output.\(index)"))
      #expect(comparison.isClose(relative: Self.tolerance), "\(name) t=\(timestep): \(comparison)")
    }
  }

  @Test(
    "UNet2DConditionModel on a latent size that is not a multiple of 2^(blocks − 1)",
    arguments: NetworkFixture.names)
  func unetOddSize(name: String) throws {
    let fixture = try NetworkFixture(name)
    let directory = fixture.directory
    let unet = try UNet2DConditionModel(
      configuration: .decode(contentsOf: directory.unetConfiguration))
    try WeightLoader.load(directory.unetWeights(), into: unet)
    let context = try fixture.tensor("unet.encoder_hidden_states").sliced(axis: 0, 0..<1)
    let output = unet(
      try fixture.tensor("unet.odd_sample"), timestep: 321, encoderHiddenStates: context)
    let comparison = TensorComparison(output, try fixture.tensor("unet.odd_output"))
    #expect(comparison.isClose(relative: Self.tolerance), "\(name): \(comparison)")
  }

  @Test("UNet2DConditionModel matches at 1 and at 3 threads")
  func threadCounts() throws {
    let fixture = try NetworkFixture("sd2-tiny")
    let directory = fixture.directory
    let unet = try UNet2DConditionModel(
      configuration: .decode(contentsOf: directory.unetConfiguration))
    try WeightLoader.load(directory.unetWeights(), into: unet)
    let sample = try fixture.tensor("unet.sample")
    let context = try fixture.tensor("unet.encoder_hidden_states")
    let timestep = Double(try fixture.tensor("unet.timesteps").scalars[0])
    for threads in [1, 3] {
      let output = ComputeOptions.withThreadCount(threads) {
        unet(sample, timestep: timestep, encoderHiddenStates: context)
      }
      let comparison = TensorComparison(output, try fixture.tensor("unet.output.0"))
      #expect(comparison.isClose(relative: Self.tolerance), "\(threads) threads: \(comparison)")
    }
  }

  @Test("StableDiffusionModel loads every component of a folder", arguments: NetworkFixture.names)
  func wholeFolder(name: String) throws {
    let fixture = try NetworkFixture(name)
    let model = try StableDiffusionModel(directory: fixture.directory)
    #expect(model.loadReports.count == 3)
    for (component, report) in model.loadReports {
      #expect(report.tensorCount > 0, "\(component)")
    }
    #expect(model.unet.parameterCount == model.loadReports["unet"]?.scalarCount)
    let tokenizer = model.tokenizer
    let padding = tokenizer.encode("the and").ids.last
    #expect(
      padding == (name == "sd1-tiny" ? tokenizer.eosTokenID : 0),
      "pad token: <|endoftext|> for SD 1.x, ! for SD 2.x")
    let embeddings = model.textEmbeddings(for: ["the and", "a photo"])
    #expect(
      embeddings.shape == [2, 77, model.textEncoder.configuration.hiddenSize] && embeddings.isFinite
    )
    let output = model.textEncoder(try fixture.tokenIDs())
    let comparison = TensorComparison(output, try fixture.tensor("clip.last_hidden_state"))
    #expect(comparison.isClose(relative: Self.tolerance), "\(comparison)")
  }
}
