import BlendedLatent
import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// Where an edit's matrix products run: on TensorCore's own kernels wherever the CPU has AVX2 + FMA, so
/// OpenBLAS's core detection (Debian's 0.3.21 takes newer CPUs for SSE3-era "Prescott") is off the hot path.
@Suite("Kernel routing of a whole edit")
struct KernelRoutingTests {
  private func edit() throws -> EditResult {
    let settings = try EndToEndCase.load("sd2-ddim")
    let io = try SafetensorsFile(
      contentsOf: RepositoryFixtures.endToEndCase("sd2-ddim").appendingPathComponent("io.safetensors"))
    let model = try StableDiffusionModel(directory: ModelDirectory(root: RepositoryFixtures.tinyModel(settings.model)))
    let editor = try BlendedLatentEditor(model: model)
    return try editor.edit(
      EditRequest(
        image: try io.tensor(named: "image"), mask: try io.tensor(named: "mask"), prompt: settings.prompt,
        stepCount: 4, guidanceScale: 7.5, strength: 0.75, seed: 3))
  }

  @Test(
    "an edit makes no OpenBLAS call where TensorCore's kernels run, and OpenBLAS only when chosen",
    .enabled(if: MatrixKernel.best != .blas, "this CPU has neither AVX2 + FMA nor AVX-512"))
  func editNeverReachesOpenBLAS() throws {
    let before = BLASRouting.callsOnCurrentThread
    let ours = try edit()
    #expect(BLASRouting.callsOnCurrentThread == before, "products handed to OpenBLAS during the edit")
    // The counter does see OpenBLAS when it runs (so the check above can fail).
    let blas = try ComputeOptions.withMatrixKernel(.blas) { try edit() }
    #expect(BLASRouting.callsOnCurrentThread > before)
    #expect(TensorComparison(ours.finalLatents, blas.finalLatents).isClose(relative: 1e-4))
  }
}
