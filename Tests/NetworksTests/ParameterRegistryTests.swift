import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// The registry's key list matches the checkpoints, and serves counting, snapshot/restore and random init.
@Suite("ParameterRegistry and random weights")
struct ParameterRegistryTests {
  /// The tensor names of a component's weight files, with the renaming the loader applies.
  func checkpointKeys(_ files: WeightFiles, renaming: KeyRenaming = .identity) throws -> Set<String> {
    var names: [String] = []
    for url in files.urls { names += try SafetensorsFile(contentsOf: url).tensorNames }
    let canonical = renaming.canonicalKeys(for: names)
    return Set(names.map { canonical[$0] ?? $0 }).subtracting(WeightLoader.defaultIgnoredKeys)
  }

  @Test("registered keys are exactly the checkpoint's keys", arguments: NetworkFixture.names)
  func keysMatchCheckpoint(name: String) throws {
    let directory = try NetworkFixture(name).directory
    let unet = try UNet2DConditionModel(
      configuration: .decode(contentsOf: directory.unetConfiguration))
    let vae = try AutoencoderKL(configuration: .decode(contentsOf: directory.vaeConfiguration))
    let textEncoder = try CLIPTextModel(
      configuration: .decode(contentsOf: directory.textEncoderConfiguration))
    let components: [(any Layer, Set<String>)] = [
      (unet, try checkpointKeys(directory.unetWeights())),
      (vae, try checkpointKeys(directory.vaeWeights())),
      (textEncoder, try checkpointKeys(directory.textEncoderWeights(), renaming: .clipTextModel)),
    ]
    for (layer, fileKeys) in components {
      let keys = layer.parameterEntries.map(\.key)
      #expect(
        Set(keys) == fileKeys,
        "\(type(of: layer)): \(Set(keys).symmetricDifference(fileKeys).sorted().prefix(5))")
      #expect(keys.count == Set(keys).count, "no key is registered twice")
    }
    #expect(textEncoder.parameterEntries.allSatisfy { $0.key.hasPrefix("text_model.") })
  }

  @Test func randomWeightModelIsDeterministicAndFinite() throws {
    let first = try StableDiffusionModel(randomWeights: .tiny, unet: .tiny, vae: .tiny, seed: 7)
    let second = try StableDiffusionModel(randomWeights: .tiny, unet: .tiny, vae: .tiny, seed: 7)
    let other = try StableDiffusionModel(randomWeights: .tiny, unet: .tiny, vae: .tiny, seed: 8)
    #expect(first.unet.parameterSnapshot() == second.unet.parameterSnapshot())
    #expect(first.vae.parameterSnapshot() != other.vae.parameterSnapshot())
    let context = first.textEncoder([Array(0..<77), Array(100..<177)])
    #expect(context.shape == [2, 77, 32])
    let sample = Tensor(
      shape: [2, 4, 8, 8], scalars: (0..<512).map { Float(($0 * 37) % 17) / 8 - 1 })
    let prediction = first.unet(sample, timestep: 500, encoderHiddenStates: context)
    #expect(prediction.shape == [2, 4, 8, 8] && prediction.isFinite)
    let image = first.vae.decode(sample)
    #expect(image.shape == [2, 3, 16, 16] && image.isFinite)
    let (mean, logVariance) = first.vae.encode(image.clamped(to: -1...1))
    #expect(mean.shape == [2, 4, 8, 8] && logVariance.shape == [2, 4, 8, 8])
  }

  @Test func snapshotAndRestoreRoundTrip() throws {
    let model = try StableDiffusionModel(randomWeights: .tiny, unet: .tiny, vae: .tiny, seed: 1)
    let decoder = model.vae.decoder
    let snapshot = decoder.parameterSnapshot()
    let latents = Tensor(shape: [1, 4, 4, 4], repeating: 0.5)
    let before = model.vae.decode(latents)
    for entry in decoder.parameterEntries { entry.set(entry.get() * 1.5) }
    #expect(model.vae.decode(latents) != before)
    decoder.restoreParameters(from: snapshot)
    #expect(model.vae.decode(latents) == before)
    #expect(decoder.parameterCount == snapshot.values.reduce(0) { $0 + $1.count })
    #expect(decoder.parameterCount < model.vae.parameterCount)
  }

  @Test func randomWeightsRejectMismatchedContextWidth() {
    #expect {
      try StableDiffusionModel(randomWeights: .stableDiffusion15, unet: .tiny, vae: .tiny, seed: 0)
    } throws: { error in
      guard let error = error as? ModelLoadingError, case .configuration(let cause) = error.cause else { return false }
      return error.folder == nil && error.component == "unet" && error.field == "cross_attention_dim"
        && cause
          == .invalid(
            file: "unet/config.json", field: "cross_attention_dim",
            reason: "32 differs from the text encoder's hidden_size 768")
    }
  }
}

/// Loading an fp16 folder keeps the linear, convolution and embedding weights in fp16 (half the memory), or
/// in the mapped files; the parity tests load the same folders (mapped, the default), so the widened values
/// are the ones diffusers computes with.
@Suite("Weights stay in their stored precision and, when mapped, in their files")
struct WeightResidencyTests {
  @Test func weightsFromFloat16FilesTakeLessMemory() throws {
    let half = try StableDiffusionModel(
      directory: ModelDirectory(root: RepositoryFixtures.tinyModel("sd2-tiny")), residency: .memory)
    let full = try StableDiffusionModel(
      directory: ModelDirectory(root: RepositoryFixtures.tinyModel("sd1-tiny")), residency: .memory)
    #expect(full.unet.parameterByteCount == 4 * full.unet.parameterCount)
    #expect(half.unet.parameterByteCount < 4 * half.unet.parameterCount)
    #expect(half.textEncoder.parameterByteCount < 4 * half.textEncoder.parameterCount)
  }

  @Test(arguments: ["sd1-tiny", "sd2-tiny"])
  func mappedWeightsLeaveOnlyNormsAndBiasesResident(model name: String) throws {
    let directory = ModelDirectory(root: RepositoryFixtures.tinyModel(name))
    let mapped = try StableDiffusionModel(directory: directory, residency: .mappedFile)
    let copied = try StableDiffusionModel(directory: directory, residency: .memory)
    for (mappedNetwork, copiedNetwork) in [
      (mapped.unet as any Layer, copied.unet as any Layer), (mapped.vae, copied.vae),
      (mapped.textEncoder, copied.textEncoder),
    ] {
      #expect(mappedNetwork.parameterByteCount * 5 < copiedNetwork.parameterByteCount)
      let copiedValues = Dictionary(uniqueKeysWithValues: copiedNetwork.parameterEntries.map { ($0.key, $0.get()) })
      for entry in mappedNetwork.parameterEntries { #expect(entry.get() == copiedValues[entry.key], "\(entry.key)") }
    }
    let prompt = ["a red hat"]
    #expect(mapped.textEmbeddings(for: prompt) == copied.textEmbeddings(for: prompt))
  }

  /// The mappings keep the files' contents alive: deleting (or replacing by rename) a loaded model's folder
  /// does not affect it.
  @Test func mappedModelsOutliveTheirDeletedFolder() throws {
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("mapped-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: RepositoryFixtures.tinyModel("sd2-tiny"), to: copy)
    let mapped = try StableDiffusionModel(directory: ModelDirectory(root: copy), residency: .mappedFile)
    try FileManager.default.removeItem(at: copy)
    let copied = try StableDiffusionModel(
      directory: ModelDirectory(root: RepositoryFixtures.tinyModel("sd2-tiny")), residency: .memory)
    let prompt = ["a lake at dawn"]
    #expect(mapped.textEmbeddings(for: prompt) == copied.textEmbeddings(for: prompt))
    let latents = Tensor(shape: [1, copied.vae.latentChannels, 8, 8], repeating: 0.25)
    #expect(mapped.vae.decode(latents) == copied.vae.decode(latents))
  }
}
