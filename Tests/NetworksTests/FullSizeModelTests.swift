import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// Opt-in: one UNet step of a full-size SD folder written by `Tests/Reference/make_full_size_models.py`
/// (weights left in the mapped files) matches diffusers' output stored in `<folder>/unet_reference.safetensors`;
/// the same step with bf16 matrix products is reported against it.
///
///     BLD_FULL_SIZE_MODEL=/path/to/sd21base swift test -c release --filter FullSizeModelTests
@Suite(
  "Full-size model (opt-in: BLD_FULL_SIZE_MODEL)",
  .enabled(if: ProcessInfo.processInfo.environment["BLD_FULL_SIZE_MODEL"] != nil))
struct FullSizeModelTests {
  @Test func unetStepMatchesDiffusers() throws {
    let path = try #require(ProcessInfo.processInfo.environment["BLD_FULL_SIZE_MODEL"])
    let directory = ModelDirectory(root: URL(fileURLWithPath: path, isDirectory: true))
    let reference = try SafetensorsFile(
      contentsOf: directory.root.appendingPathComponent("unet_reference.safetensors"))

    let loadStart = Date()
    let unet = try UNet2DConditionModel(
      configuration: .decode(contentsOf: directory.unetConfiguration))
    let report = try WeightLoader.load(directory.unetWeights(), into: unet, residency: .mappedFile)
    let loadSeconds = Date().timeIntervalSince(loadStart)

    let sample = try reference.tensor(named: "sample")
    let context = try reference.tensor(named: "encoder_hidden_states")
    let timestep = Double(try reference.tensor(named: "timestep").scalars[0])
    let stepStart = Date()
    let output = unet(sample, timestep: timestep, encoderHiddenStates: context)
    let stepSeconds = Date().timeIntervalSince(stepStart)
    let comparison = TensorComparison(output, try reference.tensor(named: "output"))
    print(
      """
      full-size UNet \(path): \(report.tensorCount) tensors, \(report.scalarCount) parameters, \
      load \(String(format: "%.1f", loadSeconds)) s; step (batch \(sample.shape[0]), \(sample.shape[2])×\(sample.shape[3]), \
      \(ComputeOptions.threadCount) threads) \(String(format: "%.2f", stepSeconds)) s; \(comparison)
      """)
    #expect(comparison.isClose(relative: 1e-3), "\(comparison)")

    // The optional bf16 matrix products on the same step: their accuracy against diffusers' fp32 output.
    let bfloat16Start = Date()
    let rounded = ComputeOptions.withMatrixPrecision(.bfloat16) {
      unet(sample, timestep: timestep, encoderHiddenStates: context)
    }
    let bfloat16Seconds = Date().timeIntervalSince(bfloat16Start)
    let bfloat16Comparison = TensorComparison(rounded, try reference.tensor(named: "output"))
    print("full-size UNet, bf16 products: step \(String(format: "%.2f", bfloat16Seconds)) s; \(bfloat16Comparison)")
    #expect(bfloat16Comparison.isClose(relative: 5e-2), "\(bfloat16Comparison)")
  }

  @Test func wholeFolderLoads() throws {
    let path = try #require(ProcessInfo.processInfo.environment["BLD_FULL_SIZE_MODEL"])
    let model = try StableDiffusionModel(
      directory: ModelDirectory(root: URL(fileURLWithPath: path, isDirectory: true)))
    for (component, report) in model.loadReports.sorted(by: { $0.key < $1.key }) {
      print(
        "\(component): \(report.tensorCount) tensors, \(report.byteCount) bytes in \(String(format: "%.1f", report.seconds)) s"
      )
    }
    let context = model.textEncoder([Array(repeating: 1, count: 77)])
    #expect(
      context.shape == [1, 77, model.textEncoder.configuration.hiddenSize] && context.isFinite)
  }
}
