import Foundation
import Hummingbird

extension EditServer {
  /// AUTOMATIC1111's `/sdapi/v1` routes: img2img, txt2img, progress, interrupt, options, sd-models, samplers,
  /// schedulers, scripts.
  func addAUTOMATIC1111Routes(to router: Router<BasicRequestContext>) {
    let limits = options.limits
    router.post("/sdapi/v1/img2img") { request, _ -> Response in
      let fields = try await RequestBodyReader.fields(of: request, maximumBytes: limits.maximumBodyBytes)
      let mapped = try AUTOMATIC1111Request.img2img(fields, model: model, limits: limits, randomSeed: randomSeed)
      return try await runSynchronously(mapped, denoisingStrength: mapped.plan.request.strength)
    }
    router.post("/sdapi/v1/txt2img") { request, _ -> Response in
      let fields = try await RequestBodyReader.fields(of: request, maximumBytes: limits.maximumBodyBytes)
      let mapped = try AUTOMATIC1111Request.txt2img(fields, model: model, limits: limits, randomSeed: randomSeed)
      return try await runSynchronously(mapped, denoisingStrength: nil)
    }
    router.get("/sdapi/v1/progress") { request, _ -> Response in
      let skipImage = request.uri.queryParameters.get("skip_current_image") == "true"
      let running = await queue.running
      return Self.json(Self.progressJSON(running, includeImage: !skipImage))
    }
    router.post("/sdapi/v1/interrupt") { _, _ -> Response in
      await queue.interruptRunning()
      return Self.json(.object([:]))
    }
    router.post("/sdapi/v1/skip") { _, _ -> Response in
      await queue.interruptRunning()
      return Self.json(.object([:]))
    }
    router.get("/sdapi/v1/options") { _, _ -> Response in
      Self.json(
        .object([
          "sd_model_checkpoint": .string(model.name), "samples_format": .string("png"),
          "eta_ddim": .number(0), "eta_ancestral": .number(1), "live_previews_enable": .bool(true),
          "show_progress_every_n_steps": .number(1),
        ]))
    }
    router.post("/sdapi/v1/options") { request, _ -> Response in
      let fields = try await RequestBodyReader.fields(of: request, maximumBytes: limits.maximumBodyBytes)
      if let name = try fields.string("sd_model_checkpoint"),
        !AUTOMATIC1111Request.isServedModel(name, model: model)
      {
        throw APIError(
          .unprocessableContent, "model_not_served",
          "sd_model_checkpoint: only '\(model.name)' is served; the server never loads models named in requests")
      }
      return Self.json(.null)
    }
    router.get("/sdapi/v1/sd-models") { _, _ -> Response in
      let stem = (model.name as NSString).deletingPathExtension
      return Self.json(
        .array([
          .object([
            "title": .string(model.name), "model_name": .string(stem), "hash": .null, "sha256": .null,
            "filename": .string(model.name), "config": .null,
          ])
        ]))
    }
    router.get("/sdapi/v1/samplers") { _, _ -> Response in
      Self.json(
        .array(
          AUTOMATIC1111Request.samplers.map {
            .object([
              "name": .string($0.name), "aliases": .array($0.aliases.map(JSONValue.string)), "options": .object([:]),
            ])
          }))
    }
    router.get("/sdapi/v1/schedulers") { _, _ -> Response in
      Self.json(
        .array(
          AUTOMATIC1111Request.scheduleTypes.map {
            .object(["name": .string($0), "label": .string($0.capitalized), "aliases": .null])
          }))
    }
    router.get("/sdapi/v1/scripts") { _, _ -> Response in
      Self.json(.object(["txt2img": .array([]), "img2img": .array([])]))
    }
  }

  /// Queues the plan, waits for it and answers as A1111 does: `images`, `parameters`, and `info` as a JSON
  /// string. An interrupted job answers 200 with the results finished before the interrupt.
  func runSynchronously(_ mapped: AUTOMATIC1111Request.Mapped, denoisingStrength: Double?) async throws -> Response {
    let submitted = try await queue.submit(mapped.plan)
    guard let snapshot = await queue.completion(submitted.id) else { throw APIError.shuttingDown }
    var images: [JSONValue] = []
    for index in 0..<snapshot.resultCount {
      if let png = await queue.result(snapshot.id, index: index) { images.append(.string(png.base64EncodedString())) }
    }
    await queue.discard(snapshot.id)
    if snapshot.status == .failed, let error = snapshot.error { throw error }
    let request = mapped.plan.request
    let seeds = mapped.plan.seeds
    let infotexts = seeds.prefix(max(images.count, 1)).map { seed in
      var text = request.prompt
      if !request.negativePrompt.isEmpty { text += "\nNegative prompt: \(request.negativePrompt)" }
      text +=
        "\nSteps: \(request.stepCount), Sampler: \(mapped.samplerName), Schedule type: Automatic, CFG scale: "
        + "\(request.guidanceScale), Seed: \(seed), Size: \(mapped.width)x\(mapped.height), Model: \(model.name)"
      if let denoisingStrength { text += ", Denoising strength: \(denoisingStrength)" }
      if mapped.maskBlur > 0 { text += ", Mask blur: \(mapped.maskBlur)" }
      return JSONValue.string(text)
    }
    var info: [String: JSONValue] = [
      "prompt": .string(request.prompt), "negative_prompt": .string(request.negativePrompt),
      "all_prompts": .array(seeds.map { _ in .string(request.prompt) }),
      "all_negative_prompts": .array(seeds.map { _ in .string(request.negativePrompt) }),
      "seed": .number(Double(seeds[0])), "all_seeds": .array(seeds.map { .number(Double($0)) }),
      "subseed": .number(-1), "all_subseeds": .array(seeds.map { _ in .number(-1) }), "subseed_strength": .number(0),
      "width": .number(Double(mapped.width)), "height": .number(Double(mapped.height)),
      "sampler_name": .string(mapped.samplerName), "cfg_scale": .number(Double(request.guidanceScale)),
      "steps": .number(Double(request.stepCount)), "batch_size": .number(Double(seeds.count)),
      "sd_model_name": .string(model.name), "index_of_first_image": .number(0), "infotexts": .array(infotexts),
      "job_timestamp": .string(Self.timestamp(snapshot.created)), "styles": .array([]),
      "restore_faces": .bool(false), "extra_generation_params": .object([:]),
      "unsupported": .array(mapped.unsupported.map(JSONValue.string)),
      "interrupted": .bool(snapshot.status == .cancelled),
    ]
    if let denoisingStrength { info["denoising_strength"] = .number(denoisingStrength) }
    return Self.json(
      .object(["images": .array(images), "parameters": mapped.parameters, "info": .string(JSONValue.object(info).text)])
    )
  }

  /// A1111's `progress` answer for the running job (zeros when idle).
  static func progressJSON(_ running: JobSnapshot?, includeImage: Bool) -> JSONValue {
    let progress = running?.progress
    let jobCount: Int = progress?.runs ?? (running == nil ? 0 : 1)
    let jobName: String = running.map { "job(\($0.id))" } ?? ""
    let jobTimestamp: String = running.map { Self.timestamp($0.created) } ?? "0"
    let state: [String: JSONValue] = [
      "skipped": .bool(false), "interrupted": .bool(false), "stopping_generation": .bool(false),
      "job": .string(jobName), "job_count": .number(Double(jobCount)), "job_timestamp": .string(jobTimestamp),
      "job_no": .number(Double(progress?.run ?? 0)),
      "sampling_step": .number(Double(progress?.completed ?? 0)),
      "sampling_steps": .number(Double(progress?.total ?? 0)),
    ]
    var image = JSONValue.null
    if includeImage, let preview = progress?.preview { image = .string(preview.base64EncodedString()) }
    return .object([
      "progress": .number(progress?.fraction ?? 0), "eta_relative": .number(progress?.remainingSeconds ?? 0),
      "state": .object(state), "current_image": image, "textinfo": .null,
    ])
  }

  /// A1111's job timestamp, `yyyyMMddHHmmss` in UTC.
  static func timestamp(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyyMMddHHmmss"
    return formatter.string(from: date)
  }
}
