import Foundation
import Networks
import TensorCore
import Testing

/// Single-file (LDM layout) checkpoints written from the tiny folders by
/// `Tests/Reference/make_single_file_checkpoints.py` (which checks that diffusers' `from_single_file` reads them
/// back to the folders' weights) load to bit-identical networks, strictly.
@Suite("Single-file checkpoints")
struct SingleFileCheckpointTests {
  static func file(_ name: String) throws -> URL {
    guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
      throw CocoaError(.fileNoSuchFile)
    }
    return fixtures.appendingPathComponent("single-file/\(name)")
  }

  /// The probe statistic diffusers computed for the file's UNet.
  static func referenceProbe(_ name: String) throws -> Double {
    let object = try JSONSerialization.jsonObject(with: Data(contentsOf: file("\(name).json")))
    return try #require((object as? [String: Any])?["probe_mean"] as? Double)
  }

  @Test(
    "a single file loads to the very weights and outputs of the folder it was written from",
    arguments: ["sd1-tiny", "sd2-tiny"])
  func bitIdenticalToFolder(name: String) throws {
    let fixture = try NetworkFixture(name)
    let folder = try StableDiffusionModel(directory: fixture.directory)
    let url = try Self.file("\(name).safetensors")
    let single = try StableDiffusionModel(checkpoint: url, configurations: fixture.directory)
    #expect(single.checkpoint?.family.generation == (name == "sd1-tiny" ? .stableDiffusion1 : .stableDiffusion2))
    #expect(
      single.predictionType == nil && single.schedulerConfigurationFile == fixture.directory.schedulerConfiguration)

    for (expected, found) in [
      (folder.textEncoder as any Layer, single.textEncoder as any Layer), (folder.unet, single.unet),
      (folder.vae, single.vae),
    ] {
      let values = Dictionary(uniqueKeysWithValues: found.parameterEntries.map { ($0.key, $0) })
      for entry in expected.parameterEntries {
        let other = try #require(values[entry.key], "\(entry.key) missing from the single-file model")
        #expect(entry.get().scalars == other.get().scalars, "\(entry.key) differs")
      }
    }
    let ids = try fixture.tokenIDs()
    #expect(folder.textEncoder(ids).scalars == single.textEncoder(ids).scalars)
    let latents = try fixture.tensor("vae.latents")
    #expect(folder.vae.decode(latents).scalars == single.vae.decode(latents).scalars)
    let sample = try fixture.tensor("unet.sample")
    let context = try fixture.tensor("unet.encoder_hidden_states")
    #expect(
      folder.unet(sample, timestep: 500, encoderHiddenStates: context).scalars
        == single.unet(sample, timestep: 500, encoderHiddenStates: context).scalars)

    // Mapped, including OpenCLIP's query/key/value thirds of one fused tensor.
    let query = try #require(
      single.textEncoder.parameterEntries.first { $0.key == "text_model.encoder.layers.0.self_attn.q_proj.weight" })
    #expect(query.storedByteCount() == 0)
    // Training leftovers are skipped by rule and reported.
    let skipped = single.loadReports.values.flatMap(\.skippedKeys)
    #expect(skipped.contains("model_ema.decay") && skipped.contains("alphas_cumprod"))
    if name == "sd2-tiny" {
      #expect(skipped.contains("cond_stage_model.model.text_projection"))
      #expect(skipped.contains("cond_stage_model.model.transformer.resblocks.2.attn.in_proj_weight"))
    } else {
      #expect(skipped.contains("cond_stage_model.transformer.text_model.embeddings.position_ids"))
    }
  }

  @Test("AUTOMATIC1111's one-step probe gives diffusers' statistic and tells v from ε")
  func probe() throws {
    let fixture = try NetworkFixture("sd2-tiny")
    let checkpoint = try SingleFileCheckpoint(contentsOf: Self.file("sd2-tiny.safetensors"))
    let model = try StableDiffusionModel(checkpoint: checkpoint.url, configurations: fixture.directory)
    let statistic = checkpoint.probeStatistic(model.unet)
    #expect(abs(statistic - (try Self.referenceProbe("sd2-tiny"))) < 1e-4)
    // A UNet whose output is −2 everywhere, as v-prediction models' is on the probe's input.
    for entry in model.unet.parameterEntries where entry.key.hasPrefix("conv_out.") {
      entry.set(Tensor(shape: entry.shape, repeating: entry.key.hasSuffix("bias") ? -2 : 0))
    }
    #expect(checkpoint.probeStatistic(model.unet) < -1)
  }

  @Test(
    "the prediction type declared in the metadata is read as Stability AI's model spec writes it",
    arguments: [
      (["modelspec.prediction_type": "v"], PredictionType.vPrediction),
      (["modelspec.prediction_type": "epsilon"], .epsilon),
      (["modelspec.architecture": "stable-diffusion-v2-768-v"], .vPrediction),
      (["modelspec.architecture": "stable-diffusion-v2-512"], .epsilon),
      ([:], nil),
    ])
  func declaredPrediction(metadata: [String: String], expected: PredictionType?) throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("bld-meta-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try SafetensorsFile.write(
      [
        "model.diffusion_model.input_blocks.0.0.weight": Tensor(shape: [8, 4, 3, 3]),
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": Tensor(shape: [8, 1024]),
        "cond_stage_model.model.ln_final.weight": Tensor(shape: [1024]),
      ], metadata: metadata, to: url)
    let checkpoint = try SingleFileCheckpoint(contentsOf: url)
    #expect(checkpoint.declaredPredictionType == expected)
    if let expected { #expect(try checkpoint.decidePredictionType() == (expected, .metadata)) }
  }

  /// The sd1 fixture's tensors as float32, for writing altered copies.
  static func tensors() throws -> [String: Tensor] {
    let file = try SafetensorsFile(contentsOf: Self.file("sd1-tiny.safetensors"))
    return try Dictionary(uniqueKeysWithValues: file.tensorNames.map { ($0, try file.tensor(named: $0)) })
  }

  @Test(
    "missing, unused and mis-shaped tensors, truncated files and pickles are one-line errors naming the key or file")
  func malformed() throws {
    let fixture = try NetworkFixture("sd1-tiny")
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bld-single-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let original = try Self.tensors()
    let missingKey = "model.diffusion_model.input_blocks.1.0.in_layers.0.weight"
    let misshapedKey = "first_stage_model.decoder.mid.attn_1.q.weight"
    var missing = original
    missing[missingKey] = nil
    var unused = original
    unused["model.diffusion_model.label_emb.0.0.weight"] = Tensor(shape: [4, 4])
    var misshaped = original
    misshaped[misshapedKey] = Tensor(shape: [3, 3, 1, 1])
    let cases: [(String, [String: Tensor], (ModelLoadingError) -> Bool)] = [
      ("missing", missing, { if case .weights(.missing(missingKey, _)) = $0.cause { true } else { false } }),
      (
        "unused", unused,
        {
          if case .weights(.unused(let keys, 1, _)) = $0.cause {
            keys == ["model.diffusion_model.label_emb.0.0.weight"]
          } else {
            false
          }
        }
      ),
      (
        "misshaped", misshaped,
        { if case .weights(.shapeMismatch(misshapedKey, _, _, [3, 3, 1, 1])) = $0.cause { true } else { false } }
      ),
    ]
    for (name, tensors, matches) in cases {
      let url = folder.appendingPathComponent("\(name).safetensors")
      try SafetensorsFile.write(tensors, to: url)
      #expect {
        try StableDiffusionModel(checkpoint: url, configurations: fixture.directory)
      } throws: { error in
        guard let error = error as? ModelLoadingError else { return false }
        return matches(error) && error.folder == url.path && !error.description.contains("\n")
      }
    }
    let bytes = try Data(contentsOf: Self.file("sd1-tiny.safetensors"))
    let truncated = folder.appendingPathComponent("truncated.safetensors")
    try bytes.prefix(bytes.count / 2).write(to: truncated)
    let pickle = folder.appendingPathComponent("model.ckpt")
    try Data([0x80, 2, 0x7D, 0x71]).write(to: pickle)
    for (url, expected) in [(truncated, "unreadable"), (pickle, "pickle")] {
      #expect {
        try StableDiffusionModel(checkpoint: url, configurations: fixture.directory)
      } throws: { error in
        guard let error = error as? ModelLoadingError, case .checkpoint(let cause) = error.cause else { return false }
        return switch cause {
        case .unreadable: expected == "unreadable"
        case .pickleFile: expected == "pickle"
        case .unknownLayout: false
        }
      }
    }
    // Another family's configurations, and the embedded ones for a file whose widths are not the published ones.
    #expect {
      try StableDiffusionModel(
        checkpoint: Self.file("sd1-tiny.safetensors"), configurations: NetworkFixture("sd2-tiny").directory)
    } throws: { error in
      (error as? ModelLoadingError)?.field == "cross_attention_dim"
    }
    #expect {
      try StableDiffusionModel(checkpoint: Self.file("sd1-tiny.safetensors"))
    } throws: { error in
      (error as? ModelLoadingError)?.description.contains("768") == true
    }
  }
}
