import BlendedLatent
import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// The `poisson` and `optimize` background modes through the editor, on the tiny SD 2.x-like folder.
@Suite("Background modes in the editor")
struct BackgroundModeTests {
  let model: StableDiffusionModel
  let image: Tensor
  let mask: Tensor

  init() throws {
    model = try StableDiffusionModel(directory: ModelDirectory(root: RepositoryFixtures.tinyModel("sd2-tiny")))
    let io = try SafetensorsFile(
      contentsOf: RepositoryFixtures.endToEndCase("sd2-ddim").appendingPathComponent("io.safetensors"))
    image = try io.tensor(named: "image")
    mask = try io.tensor(named: "mask")
  }

  func request(_ background: BackgroundMode) -> EditRequest {
    EditRequest(image: image, mask: mask, prompt: "a boat", stepCount: 10, seed: 3, background: background)
  }

  /// Mean squared difference to the original over the unmasked pixels.
  func backgroundError(_ result: Tensor) -> Double {
    let plane = mask.count
    var sum = 0.0
    var count = 0
    for index in 0..<result.count where mask.scalars[index % plane] < 0.5 {
      let difference = Double(result.scalars[index] - image.scalars[index])
      sum += difference * difference
      count += 1
    }
    return sum / Double(max(count, 1))
  }

  @Test func poissonKeepsTheOutsideExactly() throws {
    let editor = try BlendedLatentEditor(model: model)
    let result = try editor.edit(request(.poisson()))
    #expect(backgroundError(result.images[0]) == 0)
    let raw = try editor.edit(request(.none))
    #expect(result.images[0] != raw.images[0])
  }

  @Test func decoderFineTuningPullsTheBackgroundTowardsTheOriginalAndRestoresWeights() throws {
    let editor = try BlendedLatentEditor(model: model)
    let before = model.vae.parameterSnapshot()
    var options = DecoderFineTuningOptions.paper
    options.iterationCount = 8
    options.learningRate = 1e-3
    var reports: [EditProgress] = []
    let tuned = try editor.edit(request(.optimize(options))) { progress in
      if progress.phase == .backgroundReconstruction { reports.append(progress) }
      return .proceed
    }
    let raw = try editor.edit(request(.none))
    #expect(backgroundError(tuned.images[0]) < backgroundError(raw.images[0]))
    #expect(reports.map(\.completed) == Array(1...8))
    #expect(reports.allSatisfy { $0.total == 8 && $0.loss.map(\.isFinite) == true && $0.timestep == nil })
    #expect(model.vae.parameterSnapshot() == before)
  }

  @Test func cancellingTheFineTuneThrowsAndLeavesTheWeights() throws {
    let editor = try BlendedLatentEditor(model: model)
    let before = model.vae.parameterSnapshot()
    #expect {
      try editor.edit(request(.optimize(.paper))) { progress in
        progress.phase == .backgroundReconstruction && progress.completed == 2 ? .stop : .proceed
      }
    } throws: { error in
      guard case .cancelled(.backgroundReconstruction, completed: 2) = error as? PipelineError else { return false }
      return "\(error)" == "cancelled after 2 decoder fine-tuning iterations"
    }
    #expect(model.vae.parameterSnapshot() == before)
  }
}
