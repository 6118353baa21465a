import BlendedLatent
import Foundation
import Networks
import TensorCore

// Twins of the `swift` blocks of Sources/BlendedLatent/BlendedLatent.docc (see SnippetTests). Compiled, not run.
// Each function takes what its block uses from earlier blocks as parameters.
enum BlendedLatentArticleSnippets {
  static func blendedLatent1(folderURL: URL, image: Tensor, mask: Tensor) throws {
    // snippet: Sources/BlendedLatent/BlendedLatent.docc/BlendedLatent.md #1
    let model = try StableDiffusionModel(directory: ModelDirectory(root: folderURL))
    let editor = try BlendedLatentEditor(model: model)
    let request = EditRequest(
      image: image, mask: mask, prompt: "a red hat", seed: 42, batchSize: 4,
      background: .paste(featherRadius: 2))
    let result = try editor.edit(request) { progress in
      print(progress.completed, "/", progress.total)
      return .proceed
    }
    _ = result
  }

  static func editingAnImage1() throws -> (StableDiffusionModel, BlendedLatentEditor) {
    // snippet: Sources/BlendedLatent/BlendedLatent.docc/EditingAnImage.md #1
    let model = try StableDiffusionModel(directory: ModelDirectory(root: URL(fileURLWithPath: "/models/sd-2-1-base")))
    let editor = try BlendedLatentEditor(model: model)
    return (model, editor)
  }

  static func editingAnImage2() throws -> (Tensor, Tensor) {
    // snippet: Sources/BlendedLatent/BlendedLatent.docc/EditingAnImage.md #2
    let photo = try RGBImage(contentsOf: URL(fileURLWithPath: "photo.png"))  // PNG or JPEG
    let image = photo.tensor()  // [3, H, W] in [0, 1]
    let mask = try RGBImage(contentsOf: URL(fileURLWithPath: "mask.png")).luminanceTensor()  // [H, W]
    return (image, mask)
  }

  static func editingAnImage3(image: Tensor, mask: Tensor) -> EditRequest {
    // snippet: Sources/BlendedLatent/BlendedLatent.docc/EditingAnImage.md #3
    let request = EditRequest(
      image: image, mask: mask, prompt: "a red hat",
      negativePrompt: "blurry",  // the unconditional text of classifier-free guidance ("" by default)
      stepCount: 50, guidanceScale: 7.5, strength: 0.75,
      seed: 42, batchSize: 4,
      scheduler: .ddim(eta: 0),  // .dpmSolverMultistep, .eulerDiscrete, .eulerAncestralDiscrete
      maskOptions: MaskOptions(downsampling: .nearest, shrinkLevels: 0),
      background: .paste(featherRadius: 2))
    return request
  }

  static func editingAnImage4(
    editor: BlendedLatentEditor, request: EditRequest, shouldStop: () -> Bool
  ) throws -> EditResult {
    // snippet: Sources/BlendedLatent/BlendedLatent.docc/EditingAnImage.md #4
    let result = try editor.edit(request) { progress in
      print("\(progress.phase) \(progress.completed)/\(progress.total), \(progress.elapsed)")
      return shouldStop() ? .stop : .proceed
    }
    return result
  }

  static func editingAnImage5(request: EditRequest) async throws -> EditResult {
    // snippet: Sources/BlendedLatent/BlendedLatent.docc/EditingAnImage.md #5
    let service = try EditingService(modelFolder: URL(fileURLWithPath: "/models/sd-2-1-base"))
    let editing = Task {
      for try await event in service.events(for: request) {
        switch event {
        case .progress(let progress): print(progress.phase, progress.completed, progress.preview?.width ?? 0)
        case .finished(let result): return result
        }
      }
      throw CancellationError()
    }
    // editing.cancel() ends the loop and stops the edit within one step.
    let streamed = try await editing.value
    return streamed
  }

  static func editingAnImage6(result: EditResult) throws {
    // snippet: Sources/BlendedLatent/BlendedLatent.docc/EditingAnImage.md #6
    for (index, edited) in result.images.enumerated() {  // [3, H, W] in [0, 1], the input's size
      try RGBImage(tensor: edited).pngData().write(to: URL(fileURLWithPath: "edited-\(index).png"))
    }
    print(result.seed!, result.denoisingStepCount, result.timings.total)
    if result.promptWasTruncated { print("prompt longer than 77 tokens was truncated") }
  }

  static func editingAnImage7(model: StableDiffusionModel, request: EditRequest) throws {
    // snippet: Sources/BlendedLatent/BlendedLatent.docc/EditingAnImage.md #7
    var rankingEditor = try BlendedLatentEditor(model: model)
    rankingEditor.ranker = try CLIPRanker(directory: URL(fileURLWithPath: "/models/clip-vit-base-patch16"))
    let ranked = try rankingEditor.edit(request)
    // ranked.images are best first; ranked.scores[k] is the distance of ranked.images[k] (lower is better);
    // ranked.rankedOrder[k] is its index in the batch (and in ranked.finalLatents).
    _ = ranked
  }

  static func editingAnImage8(editor: BlendedLatentEditor, request: EditRequest) throws {
    // snippet: Sources/BlendedLatent/BlendedLatent.docc/EditingAnImage.md #8
    var fastEditor = editor
    fastEditor.computeSettings = ComputeSettings(threadCount: 2, matrixPrecision: .bfloat16)
    let fast = try fastEditor.edit(request)
    _ = fast
  }
}
