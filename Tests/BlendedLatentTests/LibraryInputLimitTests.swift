import BlendedLatent
import Foundation
import TensorCore
import Testing
import _TestSupport

/// Public library functions throw typed errors on hostile values instead of trapping (issue 16, finding 3), and
/// image sizes come from file headers before decoding (finding 6).
@Suite("Library limits: geometry, images, requests and schedules")
struct LibraryInputLimitTests {
  func mask(width: Int, height: Int) -> Tensor {
    var mask = Tensor(shape: [height, width])
    mask[height / 2, width / 2] = 1
    return mask
  }

  @Test("cropToMask with padding Int.max is the whole image, not an overflow trap")
  func cropWithHugePadding() throws {
    let geometry = try #require(
      try EditGeometry.cropToMask(mask(width: 40, height: 30), padding: .max, nativeResolution: 64, sizeMultiple: 8))
    #expect(geometry.region == PixelRegion(x: 0, y: 0, width: 40, height: 30))
    #expect(geometry.workingWidth == 64 && geometry.workingHeight == 48)
  }

  @Test("sizes outside 1…maximumSide and masks of the wrong rank throw EditGeometryError")
  func geometryArguments() {
    #expect(
      throws: EditGeometryError.invalidArgument(name: "nativeResolution", value: 0, reason: "must lie in 1…1048576")
    ) {
      try EditGeometry.wholeImage(width: 10, height: 10, nativeResolution: 0, sizeMultiple: 8)
    }
    #expect(throws: EditGeometryError.invalidArgument(name: "width", value: -3, reason: "must lie in 1…1048576")) {
      try EditGeometry.workingSize(width: -3, height: 10, nativeResolution: 512, sizeMultiple: 8)
    }
    #expect(
      throws: EditGeometryError.invalidArgument(name: "sizeMultiple", value: .max, reason: "must lie in 1…1048576")
    ) {
      try EditGeometry.workingSize(width: 10, height: 10, nativeResolution: 512, sizeMultiple: .max)
    }
    #expect(throws: EditGeometryError.invalidArgument(name: "padding", value: -1, reason: "must be ≥ 0")) {
      try EditGeometry.cropToMask(mask(width: 8, height: 8), padding: -1, nativeResolution: 8, sizeMultiple: 8)
    }
    #expect(throws: EditGeometryError.invalidMaskShape([2, 2, 2])) {
      try EditGeometry.cropToMask(Tensor(shape: [2, 2, 2]), padding: 1, nativeResolution: 8, sizeMultiple: 8)
    }
  }

  @Test("RGBImage(tensor:) throws for a [2, 2] tensor, an empty image and a mismatched alpha")
  func imageFromTensor() {
    #expect(throws: PipelineError.self) { try RGBImage(tensor: Tensor(shape: [2, 2])) }
    #expect(throws: PipelineError.self) { try RGBImage(tensor: Tensor(shape: [3, 0, 4])) }
    #expect(throws: PipelineError.self) {
      try RGBImage(tensor: Tensor(shape: [3, 2, 2]), alpha: Tensor(shape: [3, 3]))
    }
  }

  @Test("batchSize Int.max / 2 and a negative guidance scale are invalid parameters")
  func requestParameters() throws {
    let (image, mask) = EditorInputs.make(height: 16, width: 24)
    for (change, name) in [
      ({ (request: inout EditRequest) in request.batchSize = Int.max / 2 }, "batchSize"),
      ({ (request: inout EditRequest) in request.batchSize = EditRequest.maximumBatchSize + 1 }, "batchSize"),
      ({ (request: inout EditRequest) in request.guidanceScale = -1 }, "guidanceScale"),
    ] {
      var request = EditRequest(image: image, mask: mask, prompt: "x", stepCount: 4, seed: 1)
      change(&request)
      do {
        _ = try EditorInputs.editor.edit(request)
        Issue.record("\(name) was accepted")
      } catch {
        guard case .invalidParameter(let parameter, _, _) = error else {
          Issue.record("\(error)")
          continue
        }
        #expect(parameter == name)
      }
    }
  }

  @Test(
    "1000 steps: a clear error with the largest count that works, or a schedule that runs",
    arguments: [SchedulerKind.ddim(eta: 0), .dpmSolverMultistep, .eulerDiscrete, .eulerAncestralDiscrete])
  func thousandSteps(kind: SchedulerKind) throws {
    let (image, mask) = EditorInputs.make(height: 16, width: 24)
    var request = EditRequest(image: image, mask: mask, prompt: "x", stepCount: 1000, strength: 0.004, seed: 1)
    request.scheduler = kind
    let outcome = Result { () throws(PipelineError) in try EditorInputs.editor.edit(request) }
    switch outcome {
    case .success(let result):
      let finite = result.images.allSatisfy { $0.isFinite }
      #expect(finite)
    case .failure(let error):
      guard case .scheduler(.tooManySteps(1000, let maximum, _)) = error else {
        Issue.record("\(error)")
        return
      }
      #expect(maximum >= 500 && maximum < 1000, "\(error)")
      #expect(error.description.contains("use at most \(maximum)"), "\(error)")
      request.stepCount = maximum
      request.strength = 4.5 / Double(maximum)
      let result = try EditorInputs.editor.edit(request)
      let finite = result.images.allSatisfy { $0.isFinite }
      #expect(finite)
    }
  }

  @Test("image dimensions come from PNG and JPEG headers and match the decoded sizes")
  func headerDimensions() throws {
    for name in ["rgb16.png", "gray8.png", "rgb8-interlaced.png", "rgb.jpg", "progressive.jpg", "cmyk.jpg"] {
      let url = ImageFixtures.url(name)
      let data = try Data(contentsOf: url)
      let decoded = try RGBImage(decoding: data, fileName: name)
      #expect(
        ImageDimensions(encoded: data) == ImageDimensions(width: decoded.width, height: decoded.height), "\(name)")
    }
    #expect(ImageDimensions(encoded: Data("not an image".utf8)) == nil)
  }

  @Test("a FIFO or a device as the image is refused at once with what it is", .timeLimit(.minutes(1)))
  func nonRegularImage() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bld-image-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let fifo = directory.appendingPathComponent("in.png")
    #expect(mkfifo(fifo.path, 0o600) == 0)
    #expect(throws: ImageFileError.unreadable(file: fifo.path, reason: "it is a FIFO (named pipe), not a regular file"))
    {
      try RGBImage(contentsOf: fifo)
    }
    #expect(
      throws: ImageFileError.unreadable(file: "/dev/zero", reason: "it is a character device, not a regular file")
    ) { try RGBImage(contentsOf: URL(fileURLWithPath: "/dev/zero")) }
  }
}
