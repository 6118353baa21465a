import BlendedLatent
import Foundation
import TensorCore

/// AUTOMATIC1111's `img2img` and `txt2img` payloads mapped onto an ``EditPlan``, with A1111's semantics where
/// they define the result (see `Documentation/Server.md`):
/// - `width` × `height` is the size the edit runs and returns at; other image sizes are resized to it
///   (`resize_mode` 0, "just resize"; Lanczos for the image, nearest for the mask).
/// - `mask`: white (> 128) = repaint, or, for an image with transparency, its alpha (opaque = repaint);
///   `inpainting_mask_invert` 1 swaps them. The original is pasted back outside the mask with `mask_blur` as
///   the feather radius. `inpaint_full_res` edits the mask's box plus `inpaint_full_res_padding` (our
///   crop-to-mask) grown to `max(width, height)`.
/// - `denoising_strength` is our strength: `int(steps · strength)` steps run; `cfg_scale` the guidance.
/// - `seed` −1 picks one; `batch_size` × `n_iter` results with seeds `seed, seed + 1, …`, one edit each.
/// - `eta` applies to DDIM as η (A1111 passes the request's `eta` to DDIM); Euler a runs with η = 1 only.
/// Fields with an effect we do not have are named in the response `info`'s `unsupported` list.
package enum AUTOMATIC1111Request {
  /// A1111's sampler names we run, their aliases, and our scheduler for each (`eta` for DDIM).
  package static let samplers: [(name: String, aliases: [String], kind: @Sendable (Double) -> SchedulerKind)] = [
    ("DPM++ 2M", ["k_dpmpp_2m"], { _ in .dpmSolverMultistep }),
    ("Euler a", ["k_euler_a"], { _ in .eulerAncestralDiscrete }),
    ("Euler", ["k_euler"], { _ in .eulerDiscrete }),
    ("DDIM", ["ddim"], { eta in .ddim(eta: eta) }),
    ("LCM", ["k_lcm"], { _ in .lcm }),
  ]
  /// A1111's schedule types we accept (`automatic`: the sampler's own).
  package static let scheduleTypes = ["automatic"]
  /// The sampler when the request names none.
  package static let defaultSampler = "DPM++ 2M"

  /// A mapped request: the plan, and what the response reports.
  package struct Mapped: Sendable {
    /// The work.
    package var plan: EditPlan
    /// The sampler's A1111 name.
    package var samplerName: String
    /// The run size.
    package var width: Int
    /// The run size.
    package var height: Int
    /// `mask_blur` as applied (0 without a mask).
    package var maskBlur: Int
    /// Fields with an effect we do not have, as `name=value`.
    package var unsupported: [String]
    /// The payload echoed as `parameters` (images and mask left out).
    package var parameters: JSONValue
  }

  /// Fields read, or safe to ignore because they change nothing in our result.
  static let readFields: Set<String> = [
    "init_images", "mask", "mask_blur", "inpainting_mask_invert", "inpaint_full_res", "inpaint_full_res_padding",
    "denoising_strength", "prompt", "negative_prompt", "sampler_name", "scheduler", "steps", "cfg_scale", "seed",
    "batch_size", "n_iter", "width", "height", "eta", "inpainting_fill", "resize_mode", "override_settings",
  ]
  static let ignoredFields: Set<String> = [
    "do_not_save_samples", "do_not_save_grid", "send_images", "include_init_images",
    "override_settings_restore_afterwards", "sampler_index", "script_args", "image_cfg_scale", "mask_blur_x",
    "mask_blur_y", "comments", "force_task_id", "infotext", "disable_extra_networks", "use_async",
  ]
  static let neutralValues: [String: JSONValue] = [
    "s_noise": .number(1), "initial_noise_multiplier": .number(1), "subseed": .number(-1),
    "seed_resize_from_h": .number(-1), "seed_resize_from_w": .number(-1), "s_tmax": .null,
  ]

  /// Maps an `img2img` payload.
  /// - Throws: ``APIError`` 413/422 naming the field.
  package static func img2img(
    _ fields: RequestFields, model: ServedModel, limits: ServerLimits, randomSeed: () -> UInt64
  ) throws(APIError) -> Mapped {
    let images: [JSONValue]
    switch fields.values["init_images"] {
    case .array(let values)?: images = values
    case nil, .null?: images = []
    case let value?: throw APIError.invalidField("init_images", "must be a list of base64 images, got \(value.summary)")
    }
    guard case .string(let first)? = images.first else {
      throw APIError.invalidField("init_images", "needs one base64 image")
    }
    var unsupported: [String] = []
    if images.count > 1 { unsupported.append("init_images[1…]: only the first image is edited") }
    let image = try ImagePayload.image(
      ImagePayload.bytes(base64: first, field: "init_images[0]"), field: "init_images[0]",
      maximumPixelCount: limits.maximumPixelCount)
    let (width, height) = try size(fields, limits: limits, default: (512, 512))
    var original = image.tensor()
    if image.width != width || image.height != height {
      original = resampled(original, height: height, width: width, filter: .lanczos3).clamped(to: 0...1)
    }
    var mask = Tensor(shape: [height, width], repeating: 1)
    var maskBlur = 0
    let hasMask = try fields.string("mask").map { !$0.isEmpty } ?? false
    if hasMask,
      let maskImage = try ImagePayload.image(
        in: fields, field: "mask", maximumPixelCount: limits.maximumPixelCount)
    {
      mask = binaryMask(maskImage)
      if maskImage.width != width || maskImage.height != height {
        mask = resizedNearest(mask, height: height, width: width)
      }
      if try fields.integer("inpainting_mask_invert", in: 0...1) == 1 { mask = mask.map { 1 - $0 } }
      guard PixelRegion.boundingBox(ofMask: mask) != nil else {
        throw APIError.invalidField("mask", "selects no pixel: nothing to repaint")
      }
      maskBlur = try fields.integer("mask_blur", in: 0...256) ?? 4
      if let fill = try fields.integer("inpainting_fill", in: 0...3), fill != 1 {
        unsupported.append("inpainting_fill=\(fill): ran as 1 (original), the method's only start")
      }
    }
    var geometry = try placed {
      try EditGeometry.wholeImage(
        width: width, height: height, nativeResolution: model.nativeResolution,
        sizeMultiple: max(1, model.sizeMultiple)
      )
    }.atOriginalSize
    if hasMask, try fields.bool("inpaint_full_res") == true,
      let crop = try placed({
        try EditGeometry.cropToMask(
          mask, padding: try fields.integer("inpaint_full_res_padding", in: 0...100_000) ?? 32,
          nativeResolution: max(width, height), sizeMultiple: max(1, model.sizeMultiple))
      })
    {
      geometry = crop
    }
    if let mode = try fields.integer("resize_mode", in: 0...3), mode != 0 {
      unsupported.append("resize_mode=\(mode): ran as 0 (just resize)")
    }
    let strength = try fields.number("denoising_strength", in: 0...1) ?? 0.75
    return try mapped(
      fields, original: original, mask: mask, geometry: geometry, strength: strength, maskBlur: maskBlur,
      width: width, height: height, unsupported: unsupported, model: model, limits: limits, randomSeed: randomSeed)
  }

  /// Maps a `txt2img` payload: an edit of a mid-gray image under a whole-image mask at strength 1.
  /// - Throws: ``APIError`` 413/422 naming the field.
  package static func txt2img(
    _ fields: RequestFields, model: ServedModel, limits: ServerLimits, randomSeed: () -> UInt64
  ) throws(APIError) -> Mapped {
    let (width, height) = try size(fields, limits: limits, default: (512, 512))
    var unsupported: [String] = []
    if try fields.bool("enable_hr") == true { unsupported.append("enable_hr=true: no high-resolution pass") }
    let geometry = try placed {
      try EditGeometry.wholeImage(
        width: width, height: height, nativeResolution: model.nativeResolution,
        sizeMultiple: max(1, model.sizeMultiple)
      )
    }.atOriginalSize
    return try mapped(
      fields, original: Tensor(shape: [3, height, width], repeating: 0.5),
      mask: Tensor(shape: [height, width], repeating: 1), geometry: geometry, strength: 1, maskBlur: 0,
      width: width, height: height, unsupported: unsupported, model: model, limits: limits,
      randomSeed: randomSeed, extraRead: ["enable_hr", "denoising_strength"])
  }

  /// The sampler for an A1111 name or alias (case-insensitive).
  /// - Throws: ``APIError`` 422 listing the known names.
  package static func sampler(named name: String) throws(APIError) -> (
    name: String, kind: @Sendable (Double) -> SchedulerKind
  ) {
    let lowered = name.lowercased()
    guard let sampler = samplers.first(where: { $0.name.lowercased() == lowered || $0.aliases.contains(lowered) })
    else {
      throw APIError(
        .unprocessableContent, "unknown_sampler",
        "sampler '\(name)' is not known; known samplers: \(samplers.map(\.name).joined(separator: ", "))")
    }
    return (sampler.name, sampler.kind)
  }

  /// Whether an `sd_model_checkpoint` value names the loaded model: its name, its title (`name [hash]`) or
  /// its name without the extension.
  package static func isServedModel(_ name: String, model: ServedModel) -> Bool {
    let stem = (model.name as NSString).deletingPathExtension
    return name == model.name || name == stem || name.hasPrefix(model.name + " [")
  }

  // MARK: - Shared mapping

  private static func mapped(
    _ fields: RequestFields, original: Tensor, mask: Tensor, geometry: EditGeometry, strength: Double,
    maskBlur: Int, width: Int, height: Int, unsupported: [String], model: ServedModel, limits: ServerLimits,
    randomSeed: () -> UInt64, extraRead: Set<String> = []
  ) throws(APIError) -> Mapped {
    var unsupported = unsupported
    let samplerName = try fields.string("sampler_name").flatMap { $0.isEmpty ? nil : $0 } ?? defaultSampler
    let sampler = try sampler(named: samplerName)
    if let schedule = try fields.string("scheduler"), !schedule.isEmpty,
      !scheduleTypes.contains(schedule.lowercased())
    {
      throw APIError(
        .unprocessableContent, "unknown_scheduler",
        "scheduler '\(schedule)' is not known; known schedule types: \(scheduleTypes.joined(separator: ", "))")
    }
    let eta = try fields.number("eta", in: 0...1)
    if sampler.name == "Euler a", let eta, eta != 1 { unsupported.append("eta=\(eta): Euler a runs with eta 1") }
    let batchSize = try fields.integer("batch_size", in: 1...limits.maximumBatchSize) ?? 1
    let iterations = try fields.integer("n_iter", in: 1...limits.maximumBatchSize) ?? 1
    guard batchSize * iterations <= limits.maximumBatchSize else {
      throw APIError.invalidField(
        "batch_size",
        "batch_size × n_iter = \(batchSize * iterations) is over the server's --max-batch \(limits.maximumBatchSize)")
    }
    let seedValue = try fields.integer("seed", in: -1...(1 << 53)) ?? -1
    let seed = seedValue < 0 ? randomSeed() : UInt64(seedValue)
    let overrides = try overrideSettings(fields, model: model)
    unsupported += overrides
    unsupported += unsupportedFields(fields, read: readFields.union(extraRead))

    var request = EditRequest(
      image: original, mask: mask, prompt: try fields.string("prompt") ?? "",
      negativePrompt: try fields.string("negative_prompt") ?? "",
      stepCount: try fields.integer("steps", in: 1...limits.maximumStepCount) ?? 50,
      guidanceScale: Float(try fields.number("cfg_scale", in: 0...100) ?? 7), strength: strength, batchSize: 1,
      scheduler: sampler.kind(eta ?? 0))
    request.background = .paste(featherRadius: maskBlur)
    var parameters = fields.values
    for key in ["init_images", "mask"] where parameters[key] != nil { parameters[key] = .null }
    return Mapped(
      plan: EditPlan(
        original: original, mask: mask, geometry: geometry, request: request,
        seeds: (0..<UInt64(batchSize * iterations)).map { seed + $0 }, pastePolicy: .mask(featherRadius: maskBlur),
        preview: true),
      samplerName: sampler.name, width: width, height: height, maskBlur: maskBlur, unsupported: unsupported,
      parameters: .object(parameters))
  }

  private static func size(_ fields: RequestFields, limits: ServerLimits, default size: (Int, Int))
    throws(APIError) -> (Int, Int)
  {
    let width = try fields.integer("width", in: 8...65_536) ?? size.0
    let height = try fields.integer("height", in: 8...65_536) ?? size.1
    guard width * height <= limits.maximumPixelCount else {
      throw APIError(
        .contentTooLarge, "too_many_pixels",
        "width × height = \(width * height) pixels is over the server's --max-pixels \(limits.maximumPixelCount)")
    }
    return (width, height)
  }

  /// A1111's binary mask: the alpha channel when the image has transparency (opaque = repaint), else the
  /// gray value; either > 128 of 255.
  private static func binaryMask(_ image: RGBImage) -> Tensor {
    if let alpha = image.alphaTensor(), alpha.scalars.contains(where: { $0 < 1 }) {
      return alpha.map { $0 * 255 > 128 ? 1 : 0 }
    }
    return image.luminanceTensor().map { $0 * 255 > 128 ? 1 : 0 }
  }

  /// `override_settings`: `sd_model_checkpoint` must be the loaded model (never a file to load); the rest are
  /// reported unsupported.
  private static func overrideSettings(_ fields: RequestFields, model: ServedModel) throws(APIError) -> [String] {
    guard case .object(let settings)? = fields.values["override_settings"] else { return [] }
    var unsupported: [String] = []
    for (key, value) in settings.sorted(by: { $0.key < $1.key }) {
      if key == "sd_model_checkpoint" {
        guard case .string(let name) = value, isServedModel(name, model: model) else {
          throw APIError(
            .unprocessableContent, "model_not_served",
            "override_settings.sd_model_checkpoint: only '\(model.name)' is served; the server never loads models named in requests"
          )
        }
      } else {
        unsupported.append("override_settings.\(key)=\(value.summary)")
      }
    }
    return unsupported
  }

  /// Every field neither read nor ignorable whose value is not neutral, as `name=value`.
  private static func unsupportedFields(_ fields: RequestFields, read: Set<String>) -> [String] {
    fields.values.keys.sorted().compactMap { key in
      guard !read.contains(key), !ignoredFields.contains(key), let value = fields.values[key] else { return nil }
      if value.isEmptyOrZero || neutralValues[key] == value { return nil }
      if key == "script_name" || key == "alwayson_scripts" { return "\(key)=\(value.summary): no scripts" }
      return "\(key)=\(value.summary)"
    }
  }
}
