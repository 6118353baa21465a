import BlendedLatent
import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// Parity of the Networks VAE decoder's training forward, its gradients and the 5-iteration Adam fine-tune against torch
/// autograd + `torch.optim.Adam` on a tiny diffusers `AutoencoderKL` (Tests/Reference/make_decoder_finetune_fixtures.py).
@Suite("Decoder fine-tuning parity")
struct DecoderFineTuningParityTests {
  struct Fixture {
    let configuration: AutoencoderKLConfiguration
    let iterations: Int
    let learningRate: Float
    let backgroundWeight: Float
    let parameterNames: [String]
    let initial: [String: Tensor]
    let inputs: [String: Tensor]
    let gradients: [String: Tensor]
    let final: [String: Tensor]
  }

  static func load() throws -> Fixture {
    let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
      .appendingPathComponent("decoder-finetune")
    func tensors(_ name: String) throws -> [String: Tensor] {
      let file = try SafetensorsFile(contentsOf: directory.appendingPathComponent(name))
      var result: [String: Tensor] = [:]
      for tensorName in file.tensorNames { result[tensorName] = try file.tensor(named: tensorName) }
      return result
    }
    let data = try Data(contentsOf: directory.appendingPathComponent("config.json"))
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    let configuration = try decoder.decode(AutoencoderKLConfiguration.self, from: data)
    let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    return Fixture(
      configuration: configuration, iterations: json["iterations"] as! Int,
      learningRate: Float(json["learning_rate"] as! Double),
      backgroundWeight: Float(json["background_weight"] as! Double),
      parameterNames: json["parameter_names"] as! [String], initial: try tensors("initial.safetensors"),
      inputs: try tensors("inputs.safetensors"), gradients: try tensors("gradients.safetensors"),
      final: try tensors("final.safetensors"))
  }

  /// Parameters whose gradient is identically zero: a key bias adds `q·b` to every score of a query row, which
  /// softmax ignores.
  static func hasZeroGradient(_ name: String) -> Bool { name.hasSuffix(".to_k.bias") }

  func expectClose(_ actual: Tensor?, _ expected: Tensor?, _ name: String, tolerance: Double = 1e-4) {
    guard let actual, let expected else {
      Issue.record("\(name): missing tensor")
      return
    }
    let comparison = TensorComparison(actual, expected)
    #expect(comparison.isClose(relative: tolerance), "\(name): \(comparison)")
  }

  @Test func decodesLikeDiffusers() throws {
    let fixture = try Self.load()
    let decoder = try DecoderFineTuner(configuration: fixture.configuration, weights: fixture.initial)
    #expect(Set(decoder.parameterKeys) == Set(fixture.parameterNames))
    let decoderInput = try decoder.decoderInput(for: fixture.inputs["latent"]!)
    expectClose(decoderInput, fixture.inputs["decoder_input"], "post_quant_conv")
    expectClose(try decoder.decoded(fixture.inputs["decoder_input"]!), fixture.gradients["output_1"], "D(z)")
  }

  @Test func firstIterationGradientsMatchTorchAutograd() throws {
    let fixture = try Self.load()
    let decoder = try DecoderFineTuner(configuration: fixture.configuration, weights: fixture.initial)
    let loss = try ReconstructionLoss(
      editedImage: fixture.inputs["edited"]!, originalImage: fixture.inputs["original"]!,
      mask: fixture.inputs["mask"]!, backgroundWeight: fixture.backgroundWeight)
    let step = try decoder.outputAndGradients(decoderInput: fixture.inputs["decoder_input"]!) { loss.gradient($0) }
    let expectedLoss = Double(fixture.gradients["loss_1"]!.scalars[0])
    #expect(
      abs(loss.value(step.output) - expectedLoss) <= 1e-5 * expectedLoss,
      "loss \(loss.value(step.output)) vs \(expectedLoss)")
    #expect(Set(step.gradients.keys) == Set(fixture.parameterNames))
    let scale = fixture.parameterNames.map { fixture.gradients[$0]!.scalars.map(abs).max()! }.max()!
    for name in fixture.parameterNames {
      if Self.hasZeroGradient(name) {
        // Exactly zero in exact arithmetic; both sides hold rounding noise, so bound it by the global scale.
        let noise = step.gradients[name]!.scalars.map(abs).max()!
        #expect(noise <= 1e-6 * scale, "∂L/∂\(name) should vanish: \(noise) vs scale \(scale)")
        continue
      }
      expectClose(step.gradients[name], fixture.gradients[name], "∂L/∂\(name)")
    }
  }

  @Test func fiveAdamIterationsMatchTorch() throws {
    let fixture = try Self.load()
    let tuner = try DecoderFineTuner(configuration: fixture.configuration, weights: fixture.initial)
    var reported: [EditProgress] = []
    let options = DecoderFineTuningOptions(
      iterationCount: fixture.iterations, learningRate: fixture.learningRate,
      backgroundWeight: fixture.backgroundWeight)
    let result = try tuner.reconstruct(
      decoderInput: fixture.inputs["decoder_input"]!, editedImage: fixture.inputs["edited"]!,
      originalImage: fixture.inputs["original"]!, mask: fixture.inputs["mask"]!, options: options
    ) { progress in
      reported.append(progress)
      return .proceed
    }
    #expect(reported.map(\.completed) == Array(1...fixture.iterations))
    #expect(reported.allSatisfy { $0.phase == .backgroundReconstruction && $0.total == fixture.iterations })
    expectClose(Tensor(shape: [result.losses.count], scalars: result.losses), fixture.final["losses"], "losses")
    expectClose(result.image, fixture.final["output"], "output after \(fixture.iterations) iterations")
    for name in fixture.parameterNames {
      if Self.hasZeroGradient(name) {
        // Adam turns the rounding noise of a vanishing gradient into steps of up to lr each, on both sides.
        let drift = (result.tunedParameters[name]! - fixture.initial[name]!).scalars.map(abs).max()!
        #expect(drift <= 1.01 * Float(fixture.iterations) * fixture.learningRate, "\(name) drifted by \(drift)")
        continue
      }
      expectClose(result.tunedParameters[name], fixture.final[name], "θ_\(fixture.iterations) \(name)")
      // The update itself (θ₅ − θ₀) is checked too, so a no-op optimiser cannot pass on the weights' scale.
      let delta = result.tunedParameters[name]! - fixture.initial[name]!
      let expectedDelta = fixture.final[name]! - fixture.initial[name]!
      expectClose(delta, expectedDelta, "θ_\(fixture.iterations) − θ₀ \(name)", tolerance: 2e-2)
    }
    // The tuner's own weights were not touched (the paper's restore-after-each-image).
    #expect(
      tuner.autoencoder.parameterSnapshot()
        == (try DecoderFineTuner(configuration: fixture.configuration, weights: fixture.initial)).autoencoder
        .parameterSnapshot())
  }
}
