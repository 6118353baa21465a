import BlendedLatent
import Foundation
import TensorCore

/// The native API's edit: `POST /v1/edits` as JSON (base64 `image` and `mask`) or multipart (file parts
/// `image` and `mask`, text parts for the rest). Field names are `bld edit`'s options in snake case with the
/// same defaults; unknown fields are refused (422), so no field can name a file.
package enum NativeEditRequest {
  /// `--background` values.
  enum Background: String, CaseIterable {
    case none, paste, poisson, optimize
  }
  /// `--mask-downsample` values.
  enum MaskDownsample: String, CaseIterable {
    case nearest, max
  }
  /// `--working-size` values.
  enum WorkingSize: String, CaseIterable {
    case native, original
  }
  /// `--fine-tune` values.
  enum FineTune: String, CaseIterable {
    case paper, fast
  }

  /// Every field the native edit reads.
  package static let fieldNames: Set<String> = [
    "image", "mask", "prompt", "negative_prompt", "steps", "guidance", "strength", "seed", "batch", "scheduler",
    "eta", "background", "feather", "mask_shrink", "mask_downsample", "crop_to_mask", "working_size",
    "inpainting_blend", "fine_tune", "fine_tune_iterations", "preview",
  ]

  /// Reads and checks the fields and builds the plan.
  /// - Parameters:
  ///   - fields: The request's fields.
  ///   - model: The served model (native resolution, size multiple).
  ///   - limits: The server's limits.
  ///   - randomSeed: Picks the seed when `seed` is absent.
  /// - Throws: ``APIError`` (400/413/422) naming the field.
  package static func plan(
    _ fields: RequestFields, model: ServedModel, limits: ServerLimits, randomSeed: () -> UInt64
  ) throws(APIError) -> EditPlan {
    try fields.rejectUnknown(fieldNames)
    guard
      let image = try ImagePayload.image(in: fields, field: "image", maximumPixelCount: limits.maximumPixelCount)
    else { throw APIError.invalidField("image", "is required (base64 PNG/JPEG, or a multipart file part)") }
    guard let prompt = try fields.string("prompt") else { throw APIError.invalidField("prompt", "is required") }
    let mask: Tensor
    if try fields.string("mask")?.lowercased() == "alpha" {
      guard let transparency = image.transparencyTensor() else {
        throw APIError.invalidField("mask", "'alpha' needs an image with an alpha channel")
      }
      mask = transparency
    } else if let maskImage = try ImagePayload.image(
      in: fields, field: "mask", maximumPixelCount: limits.maximumPixelCount)
    {
      guard maskImage.width == image.width && maskImage.height == image.height else {
        throw APIError.invalidField(
          "mask", "is \(maskImage.width)×\(maskImage.height) but the image is \(image.width)×\(image.height)")
      }
      mask = maskImage.luminanceTensor()
    } else {
      throw APIError.invalidField("mask", "is required (white = edit), or 'alpha' for the image's transparency")
    }
    guard PixelRegion.boundingBox(ofMask: mask) != nil else {
      throw APIError.invalidField("mask", "is empty: no pixel is white (≥ 50 %), nothing to edit")
    }

    var request = EditRequest(image: Tensor(shape: [3, 1, 1]), mask: Tensor(shape: [1, 1]), prompt: prompt)
    request.negativePrompt = try fields.string("negative_prompt") ?? ""
    request.stepCount = try fields.integer("steps", in: 1...limits.maximumStepCount) ?? 50
    request.guidanceScale = Float(try fields.number("guidance", in: 0...100) ?? 7.5)
    request.strength = try fields.number("strength", in: 0...1) ?? 0.75
    request.batchSize = try fields.integer("batch", in: 1...limits.maximumBatchSize) ?? 1
    let eta = try fields.number("eta", in: 0...1) ?? 0
    if let name = try fields.string("scheduler") {
      guard let scheduler = SchedulerKind(name: name, eta: eta) else {
        throw APIError.invalidField("scheduler", "'\(name)' is not one of ddim, dpm++2m, euler, euler-a, lcm")
      }
      request.scheduler = scheduler
    } else {
      request.scheduler = .ddim(eta: eta)
    }
    request.maskOptions = MaskOptions(
      downsampling: try fields.choice("mask_downsample", MaskDownsample.self) == .max ? .maxPool : .nearest,
      shrinkLevels: try fields.integer("mask_shrink", in: 0...8) ?? 0)
    request.inpaintingBlend = try fields.bool("inpainting_blend") ?? true
    let feather = try fields.integer("feather", in: 0...256) ?? 0
    let background = try fields.choice("background", Background.self) ?? Background.none
    switch background {
    case .none: request.background = .none
    case .paste: request.background = .paste(featherRadius: feather)
    case .poisson: request.background = .poisson()
    case .optimize:
      var options: DecoderFineTuningOptions = try fields.choice("fine_tune", FineTune.self) == .fast ? .fast : .paper
      if let iterations = try fields.integer("fine_tune_iterations", in: 1...1000) {
        options.iterationCount = iterations
      }
      request.background = .optimize(options)
    }
    let seed = try fields.integer("seed", in: 0...(1 << 53)).map(UInt64.init) ?? randomSeed()

    let original = image.tensor()
    let multiple = max(1, model.sizeMultiple)
    var geometry: EditGeometry
    if let padding = try fields.integer("crop_to_mask", in: 0...100_000),
      let crop = try placed({
        try EditGeometry.cropToMask(
          mask, padding: padding, nativeResolution: model.nativeResolution, sizeMultiple: multiple)
      })
    {
      geometry = crop
    } else {
      geometry = try placed {
        try EditGeometry.wholeImage(
          width: image.width, height: image.height, nativeResolution: model.nativeResolution, sizeMultiple: multiple)
      }
    }
    if try fields.choice("working_size", WorkingSize.self) == .original { geometry = geometry.atOriginalSize }
    return EditPlan(
      original: original, mask: mask, geometry: geometry, request: request, seeds: [seed],
      pastePolicy: background == .paste ? .mask(featherRadius: feather) : .region,
      preview: try fields.bool("preview") ?? true)
  }
}
