import BlendedLatent
import Foundation
import TensorCore

/// OpenAI's `POST /v1/images/edits` (multipart: `image`, optional `mask`, `prompt`, `n`, `size`,
/// `response_format`), as Open WebUI sends it, mapped onto an ``EditPlan``.
///
/// The mask's **transparent** pixels are the area to edit (OpenAI's convention); without a mask, the image's
/// own transparency. `size` (`WIDTHxHEIGHT`) is the size the edit runs and returns at, as in AUTOMATIC1111;
/// without it (or `auto`), the image keeps its size and the model works at its native resolution. The
/// original is pasted back outside the mask. `n` results come from one batch with a random seed. `model`,
/// `quality`, `user`, `background` and `output_format` (`png` only) are accepted and change nothing.
package enum OpenAIImageEdit {
  /// Fields read or accepted.
  static let fieldNames: Set<String> = [
    "image", "image[]", "mask", "prompt", "n", "size", "response_format", "model", "quality", "user", "background",
    "output_format", "input_fidelity", "stream", "output_compression", "moderation",
  ]

  /// The plan, and whether results are to be returned as URLs.
  /// - Throws: ``APIError`` 413/422 naming the field.
  package static func plan(
    _ fields: RequestFields, model: ServedModel, limits: ServerLimits, randomSeed: () -> UInt64
  ) throws(APIError) -> (plan: EditPlan, asURLs: Bool) {
    try fields.rejectUnknown(fieldNames)
    let imageField = fields.files["image"] != nil || fields.values["image"] != nil ? "image" : "image[]"
    guard
      let image = try ImagePayload.image(in: fields, field: imageField, maximumPixelCount: limits.maximumPixelCount)
    else { throw APIError.invalidField("image", "is required (a PNG or JPEG file part)") }
    guard let prompt = try fields.string("prompt"), !prompt.isEmpty else {
      throw APIError.invalidField("prompt", "is required")
    }
    let mask: Tensor
    if let maskImage = try ImagePayload.image(in: fields, field: "mask", maximumPixelCount: limits.maximumPixelCount) {
      guard let transparency = maskImage.transparencyTensor() else {
        throw APIError.invalidField("mask", "must be a PNG with an alpha channel (transparent = edit)")
      }
      guard maskImage.width == image.width && maskImage.height == image.height else {
        throw APIError.invalidField(
          "mask", "is \(maskImage.width)×\(maskImage.height) but the image is \(image.width)×\(image.height)")
      }
      mask = transparency
    } else if let transparency = image.transparencyTensor() {
      mask = transparency
    } else {
      throw APIError.invalidField("mask", "is required when the image has no transparent area to edit")
    }
    guard PixelRegion.boundingBox(ofMask: mask) != nil else {
      throw APIError.invalidField("mask", "has no transparent pixel: nothing to edit")
    }
    let count = try fields.integer("n", in: 1...limits.maximumBatchSize) ?? 1
    if let format = try fields.string("output_format"), format.lowercased() != "png" {
      throw APIError.invalidField("output_format", "only png is produced")
    }
    let format = try fields.string("response_format") ?? "b64_json"
    guard format == "b64_json" || format == "url" else {
      throw APIError.invalidField("response_format", "must be b64_json or url")
    }
    var original = image.tensor()
    var workingMask = mask
    let multiple = max(1, model.sizeMultiple)
    var geometry = try placed {
      try EditGeometry.wholeImage(
        width: image.width, height: image.height, nativeResolution: model.nativeResolution, sizeMultiple: multiple)
    }
    if let size = try fields.string("size"), size != "auto" {
      // Exactly two whole numbers, each bounded (as AUTOMATIC1111's width and height) before the product is taken,
      // so huge sides are a field error, not an overflow.
      let pieces = size.lowercased().split(separator: "x", omittingEmptySubsequences: false)
      let parts = pieces.compactMap { Int($0) }
      guard pieces.count == 2, parts.count == 2, (8...65_536).contains(parts[0]), (8...65_536).contains(parts[1])
      else {
        throw APIError.invalidField("size", "must be WIDTHxHEIGHT with sides from 8 to 65536 (e.g. 512x512) or auto")
      }
      guard parts[0] * parts[1] <= limits.maximumPixelCount else {
        throw APIError(
          .contentTooLarge, "too_many_pixels",
          "size \(size) is over the server's --max-pixels \(limits.maximumPixelCount)")
      }
      if parts[0] != image.width || parts[1] != image.height {
        original = resampled(original, height: parts[1], width: parts[0], filter: .lanczos3).clamped(to: 0...1)
        workingMask = resizedNearest(mask, height: parts[1], width: parts[0])
      }
      geometry =
        try placed {
          try EditGeometry.wholeImage(
            width: parts[0], height: parts[1], nativeResolution: model.nativeResolution, sizeMultiple: multiple
          )
        }.atOriginalSize
    }
    var request = EditRequest(image: original, mask: workingMask, prompt: prompt)
    request.batchSize = count
    request.background = .paste(featherRadius: 0)
    return (
      EditPlan(
        original: original, mask: workingMask, geometry: geometry, request: request, seeds: [randomSeed()],
        pastePolicy: .mask(featherRadius: 0), preview: false),
      format == "url"
    )
  }
}
