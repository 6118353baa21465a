import BlendedLatent
import Foundation
import TensorCore
import Testing
import _TestSupport

enum EditorInputs {
  /// A smooth image and an elliptic mask.
  static func make(height: Int, width: Int) -> (image: Tensor, mask: Tensor) {
    var image = Tensor(shape: [3, height, width])
    var mask = Tensor(shape: [height, width])
    for i in 0..<height {
      for j in 0..<width {
        image[0, i, j] = 0.5 + 0.4 * sin(Float(j) / 5)
        image[1, i, j] = 0.5 + 0.4 * cos(Float(i) / 7)
        image[2, i, j] = Float(i + j) / Float(height + width)
        let y = (Float(i) - Float(height) / 2) / (Float(height) / 3)
        let x = (Float(j) - Float(width) / 2) / (Float(width) / 3)
        mask[i, j] = x * x + y * y < 1 ? 1 : 0
      }
    }
    return (image, mask)
  }

  static var editor: BlendedLatentEditor {
    BlendedLatentEditor(
      textEncoder: FakeTextEncoder(), autoencoder: FakeAutoencoder(), noisePredictor: FakeNoisePredictor(),
      schedulerConfiguration: .stableDiffusion)
  }
}

@Suite("BlendedLatentEditor: checks, policies, progress and background modes")
struct EditorTests {
  /// Expects `request` to fail with an error that `matches`, whose one-line description names every fragment
  /// (the parameter, the offending value or shape).
  func expectError(
    _ request: EditRequest, _ matches: (PipelineError) -> Bool, _ comment: String, mentioning fragments: String...
  ) {
    do {
      _ = try EditorInputs.editor.edit(request)
      Issue.record("expected an error: \(comment)")
    } catch {
      #expect(matches(error), "\(comment): got \(error)")
      #expect(!error.description.contains("\n"), "\(comment): \(error.description)")
      for fragment in fragments {
        #expect(error.description.contains(fragment), "\(comment): '\(error.description)' lacks '\(fragment)'")
      }
    }
  }

  @Test func requestDefaultsAreTheReferenceScript() {
    let (image, mask) = EditorInputs.make(height: 24, width: 24)
    let request = EditRequest(image: image, mask: mask, prompt: "x")
    #expect(request.negativePrompt == "")
    #expect(request.stepCount == 50)
    #expect(request.guidanceScale == 7.5)
    #expect(request.strength == 0.75)
    #expect(request.batchSize == 1)
    #expect(request.scheduler == .ddim(eta: 0))
    #expect(request.maskOptions == MaskOptions(downsampling: .nearest, shrinkLevels: 0, resizeMaskToImage: false))
    #expect(request.background == .none)
    #expect(request.resizePolicy == .pad)
    #expect(request.keptStepCount == 37)
  }

  @Test func invalidInputsThrowTypedErrors() {
    let (image, mask) = EditorInputs.make(height: 16, width: 24)
    func request(_ change: (inout EditRequest) -> Void) -> EditRequest {
      var request = EditRequest(image: image, mask: mask, prompt: "x", stepCount: 4, seed: 1)
      change(&request)
      return request
    }
    expectError(
      request { $0.mask = Tensor(shape: [16, 16], repeating: 1) },
      {
        if case .sizeMismatch(let i, let m) = $0 { return i == [16, 24] && m == [16, 16] } else { return false }
      }, "size mismatch", mentioning: "mask size [16, 16]", "image size [16, 24]")
    expectError(
      request { $0.mask = Tensor(shape: [16, 24]) }, { if case .emptyMask = $0 { true } else { false } }, "empty",
      mentioning: "mask is empty")
    expectError(
      request { $0.image[1, 2, 3] = .nan },
      {
        if case .nonFiniteInput("image") = $0 { true } else { false }
      }, "NaN image", mentioning: "image contains NaN")
    expectError(
      request { $0.mask[0, 0] = .infinity },
      {
        if case .nonFiniteInput("mask") = $0 { true } else { false }
      }, "inf mask", mentioning: "mask contains NaN or infinite")
    expectError(
      request { $0.image[0, 0, 0] = 1.5 },
      {
        if case .valueOutOfRange("image", _, _) = $0 { true } else { false }
      }, "range", mentioning: "image values", "1.5")
    expectError(
      request { $0.image = Tensor(shape: [4, 16, 24]) },
      {
        if case .invalidImageShape = $0 { true } else { false }
      }, "image shape", mentioning: "image must be [3, H, W]", "[4, 16, 24]")
    expectError(
      request { $0.mask = Tensor(shape: [1, 16, 24]) },
      {
        if case .invalidMaskShape = $0 { true } else { false }
      }, "mask shape", mentioning: "mask must be [H, W]", "[1, 16, 24]")
    expectError(
      request { $0.strength = 0.1 },
      {
        if case .invalidParameter("strength", _, _) = $0 { true } else { false }
      }, "strength leaves no step", mentioning: "strength = 0.1", "0 steps")
    expectError(
      request { $0.strength = 1.5 },
      {
        if case .invalidParameter("strength", _, _) = $0 { true } else { false }
      }, "strength > 1", mentioning: "strength = 1.5", "(0, 1]")
    expectError(
      request { $0.batchSize = 0 },
      {
        if case .invalidParameter("batchSize", _, _) = $0 { true } else { false }
      }, "batch", mentioning: "batchSize = 0")
    expectError(
      request { $0.stepCount = 0 },
      {
        if case .invalidParameter("stepCount", _, _) = $0 { true } else { false }
      }, "steps", mentioning: "stepCount = 0")
    expectError(
      request { $0.stepCount = 5000 },
      {
        if case .scheduler(.invalidStepCount(5000, trainTimesteps: 1000)) = $0 { true } else { false }
      }, "too many steps", mentioning: "scheduler: ", "5000 inference steps", "1000 training")
    expectError(
      request { $0.background = .paste(featherRadius: -1) },
      {
        if case .invalidParameter = $0 { true } else { false }
      }, "feather", mentioning: "featherRadius = -1")
  }

  @Test func maskOfAnotherSizeIsResizedWhenAsked() throws {
    let (image, _) = EditorInputs.make(height: 16, width: 24)
    let (_, smallMask) = EditorInputs.make(height: 8, width: 12)
    var request = EditRequest(
      image: image, mask: smallMask, prompt: "x", stepCount: 4, seed: 1,
      maskOptions: MaskOptions(resizeMaskToImage: true))
    let result = try EditorInputs.editor.edit(request)
    #expect(result.images[0].shape == [3, 16, 24])
    request.maskOptions.resizeMaskToImage = false
    expectError(
      request,
      {
        if case .sizeMismatch([16, 24], [8, 12]) = $0 { true } else { false }
      }, "resize off", mentioning: "resizeMaskToImage")
  }

  @Test func sizesNotMultipleOfEightArePaddedAndCroppedBack() throws {
    let (image, mask) = EditorInputs.make(height: 21, width: 35)
    var request = EditRequest(
      image: image, mask: mask, prompt: "x", stepCount: 5, seed: 2, background: .paste(featherRadius: 0))
    let result = try EditorInputs.editor.edit(request)
    #expect(result.images.count == 1)
    #expect(result.images[0].shape == [3, 21, 35])
    #expect(result.latentMask.shape == [3, 5])
    #expect(result.finalLatents.shape == [1, 4, 3, 5])
    for i in 0..<21 {
      for j in 0..<35 where mask[i, j] < 0.5 {
        for c in 0..<3 { #expect(result.images[0][c, i, j] == image[c, i, j]) }
      }
    }
    request.resizePolicy = .reject
    expectError(
      request,
      {
        if case .sizeNotMultiple(21, 35, 8) = $0 { true } else { false }
      }, "reject policy", mentioning: "21×35", "multiple of 8")
  }

  @Test func thinMaskVanishingAtLatentSizeIsReported() throws {
    let (image, _) = EditorInputs.make(height: 32, width: 32)
    var mask = Tensor(shape: [32, 32])
    for i in 0..<32 { mask[i, 1] = 1 }  // column 1 never sampled by nearest (samples 4, 12, 20, 28)
    var request = EditRequest(image: image, mask: mask, prompt: "x", stepCount: 4, seed: 1)
    expectError(
      request,
      {
        if case .emptyLatentMask(4, 4) = $0 { true } else { false }
      }, "thin mask", mentioning: "latent size 4×4", "maxPool")
    request.maskOptions.downsampling = .maxPool
    let result = try EditorInputs.editor.edit(request)
    #expect(result.latentMask[0, 0] == 1 && result.latentMask[0, 1] == 0)
  }

  @Test func progressReportsEveryStepAndCanCancel() throws {
    let (image, mask) = EditorInputs.make(height: 24, width: 24)
    let request = EditRequest(image: image, mask: mask, prompt: "x", stepCount: 10, strength: 0.6, seed: 1)
    var reports: [EditProgress] = []
    let result = try EditorInputs.editor.edit(request) {
      reports.append($0)
      return .proceed
    }
    #expect(reports.map(\.completed) == Array(1...6))
    #expect(reports.allSatisfy { $0.total == 6 && $0.phase == .denoising && $0.preview == nil && $0.loss == nil })
    #expect(reports.compactMap(\.timestep).count == 6)
    #expect(zip(reports, reports.dropFirst()).allSatisfy { $0.elapsed <= $1.elapsed && $0.timestep! > $1.timestep! })
    #expect(result.denoisingStepCount == 6)
    #expect(result.timings.total >= result.timings.denoising)
    var calls = 0
    do {
      _ = try EditorInputs.editor.edit(request) { _ in
        calls += 1
        return calls == 2 ? .stop : .proceed
      }
      Issue.record("expected cancellation")
    } catch {
      guard case .cancelled(.denoising, completed: 2) = error else {
        Issue.record("expected cancelled(2), got \(error)")
        return
      }
    }
    #expect(calls == 2)
  }

  @Test func longPromptsAreReportedAsTruncated() throws {
    let (image, mask) = EditorInputs.make(height: 24, width: 24)
    let long = Array(repeating: "word", count: 80).joined(separator: " ")
    let result = try EditorInputs.editor.edit(
      EditRequest(image: image, mask: mask, prompt: long, stepCount: 4, seed: 1))
    #expect(result.promptWasTruncated)
    #expect(!result.negativePromptWasTruncated)
    let short = try EditorInputs.editor.edit(
      EditRequest(image: image, mask: mask, prompt: "a hat", stepCount: 4, seed: 1))
    #expect(!short.promptWasTruncated)
  }

  @Test func batchGivesDistinctResultsAndRandomSeedIsReported() throws {
    let (image, mask) = EditorInputs.make(height: 16, width: 24)
    let result = try EditorInputs.editor.edit(
      EditRequest(image: image, mask: mask, prompt: "x", stepCount: 6, batchSize: 3))
    #expect(result.images.count == 3)
    #expect(result.seed != nil)
    #expect(result.images[0] != result.images[1])
    let replay = try EditorInputs.editor.edit(
      EditRequest(image: image, mask: mask, prompt: "x", stepCount: 6, seed: result.seed, batchSize: 3))
    #expect(replay.images == result.images)
  }

  @Test func injectedNoiseIsUsed() throws {
    let (image, mask) = EditorInputs.make(height: 24, width: 24)
    let request = EditRequest(image: image, mask: mask, prompt: "x", stepCount: 4, strength: 1, seed: 9)
    let seeded = try EditorInputs.editor.edit(request)
    let injected = try EditorInputs.editor.edit(request, noise: TorchGenerator(seed: 9))
    #expect(seeded.finalLatents == injected.finalLatents)
    #expect(injected.seed == nil)
  }

  @Test func pasteKeepsOriginalPixelsOutsideAndFeathersInside() throws {
    let (image, mask) = EditorInputs.make(height: 32, width: 32)
    let base = EditRequest(image: image, mask: mask, prompt: "x", stepCount: 4, seed: 1)
    let raw = try EditorInputs.editor.edit(base)
    var pasted = base
    pasted.background = .paste(featherRadius: 0)
    let hard = try EditorInputs.editor.edit(pasted).images[0]
    pasted.background = .paste(featherRadius: 3)
    let soft = try EditorInputs.editor.edit(pasted).images[0]
    let weights = PixelPaste.weights(mask: mask, featherRadius: 3)
    var sawPartial = false
    for i in 0..<32 {
      for j in 0..<32 {
        for c in 0..<3 {
          if mask[i, j] < 0.5 {
            #expect(hard[c, i, j] == image[c, i, j])
            #expect(soft[c, i, j] == image[c, i, j])
          } else {
            #expect(hard[c, i, j] == raw.images[0][c, i, j])
          }
        }
        if weights[i, j] > 0 && weights[i, j] < 1 { sawPartial = true }
      }
    }
    #expect(sawPartial)
    // A pixel next to the unmasked area has weight 1/(r + 1).
    let row = (0..<32).first { mask[16, $0] >= 0.5 }!
    #expect(abs(weights[16, row] - 0.25) < 1e-6)
  }
}
