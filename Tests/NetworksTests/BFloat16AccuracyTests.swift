import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// The optional bf16 matrix precision against the diffusers fp32 outputs of the parity fixtures: how far it
/// moves the networks (Documentation/Performance.md has the full-size figures).
@Suite("bf16 matrix precision stays close to diffusers' fp32 outputs")
struct BFloat16AccuracyTests {
  /// Relative to the output's largest magnitude; measured on the tiny folders: see the expectations' messages.
  static let tolerance = 3e-2

  @Test(arguments: NetworkFixture.names)
  func unetAndDecoder(name: String) throws {
    let fixture = try NetworkFixture(name)
    let directory = fixture.directory
    let unet = try UNet2DConditionModel(configuration: .decode(contentsOf: directory.unetConfiguration))
    try WeightLoader.load(directory.unetWeights(), into: unet)
    let vae = try AutoencoderKL(configuration: .decode(contentsOf: directory.vaeConfiguration))
    try WeightLoader.load(directory.vaeWeights(), into: vae)
    let sample = try fixture.tensor("unet.sample")
    let context = try fixture.tensor("unet.encoder_hidden_states")
    let timestep = Double(try fixture.tensor("unet.timesteps").scalars[0])
    let latents = try fixture.tensor("vae.latents")
    let (noise, decoded) = ComputeOptions.withMatrixPrecision(.bfloat16) {
      (unet(sample, timestep: timestep, encoderHiddenStates: context), vae.decode(latents))
    }
    for (output, key) in [(noise, "unet.output.0"), (decoded, "vae.decoded")] {
      let comparison = TensorComparison(output, try fixture.tensor(key))
      #expect(comparison.isClose(relative: Self.tolerance), "\(name) \(key): \(comparison)")
      if PackedGEMM.supportsBFloat16 {
        #expect(comparison.relativeError > 1e-5, "\(name) \(key): bf16 requested but \(comparison) looks like fp32")
      }
      print("bf16 \(name) \(key): \(comparison)")
    }
  }
}
