import Foundation
import TensorCore

extension StableDiffusionModel {
  /// Loads a single-file checkpoint (LDM / AUTOMATIC1111 layout, `.safetensors`) strictly, with no conversion step
  /// and no copy of the file: the family is decided from its keys and shapes (``CheckpointFamily``), the networks
  /// are built from the family's embedded configurations (or those of `configurations`, as diffusers'
  /// `from_single_file(config=…)` does), every parameter is read from its LDM key, and every tensor of the file
  /// must be used or ignored by rule (``SingleFileCheckpoint/ignoredReason(for:textEncoderLayers:)``).
  /// - Parameters:
  ///   - url: the `.safetensors` file. Pickle files (`.ckpt`, …) are refused without being opened.
  ///   - configurations: a diffusers folder whose configurations and tokenizer to use instead of the embedded ones
  ///     (its weights are not read), for checkpoints whose networks differ from the published shapes.
  ///   - predictionType: the UNet's prediction type; `nil` decides it — from the file's metadata, else (SD 2.x)
  ///     from a one-step probe of the UNet, else ε — unless `configurations` is given, whose scheduler then says
  ///     it.
  ///   - residency: where the weights live (default: left in the mapped file).
  /// - Throws: ``ModelLoadingError`` naming the file and component: `.checkpoint` for a pickle, unreadable or
  ///   unknown file, `.weights` for missing, unused or mis-shaped tensors
  ///   (naming the LDM key), `.configuration` when `configurations` belong to another family.
  public convenience init(
    checkpoint url: URL, configurations folder: ModelDirectory? = nil, predictionType: PredictionType? = nil,
    residency: WeightResidency = .mappedFile
  ) throws(ModelLoadingError) {
    let path = url.path
    func loading<T>(_ component: String?, _ body: () throws -> T) throws(ModelLoadingError) -> T {
      do { return try body() } catch { throw .wrapping(error, folder: path, component: component) }
    }
    let checkpoint = try loading(nil) { try SingleFileCheckpoint(contentsOf: url) }
    let family = checkpoint.family
    var decided = predictionType ?? checkpoint.declaredPredictionType
    let configurations: ModelConfigurations
    if let folder {
      configurations = try ModelConfigurations(directory: folder)
      try Self.check(configurations, fit: family, folder: folder.root.path, file: path)
    } else {
      try checkpoint.checkPublishedShapes()
      if decided == nil { decided = try checkpoint.decidePredictionType().0 }
      configurations = try ModelConfigurations.embedded(for: family, predictionType: decided ?? .epsilon)
    }
    let networks = try Self.networks(for: configurations, folder: path)
    let start = Date()
    var used = Set<String>()
    var reports: [String: LoadReport] = [:]
    func load(_ component: SingleFileCheckpoint.Component, _ sources: [String: TensorSource], into layer: any Layer)
      throws(ModelLoadingError)
    {
      var report = try loading(component.rawValue) {
        try WeightLoader.assign(sources, to: layer, residency: residency, description: path)
      }
      report.files = [path]
      reports[component.rawValue] = report
      used.formUnion(sources.values.map(\.key))
    }
    try load(.textEncoder, checkpoint.sources(for: networks.textEncoder), into: networks.textEncoder)
    if let second = networks.secondTextEncoder {
      try load(.secondTextEncoder, checkpoint.sources(for: second), into: second)
    }
    try load(.unet, checkpoint.sources(for: networks.unet), into: networks.unet)
    try load(.vae, checkpoint.sources(for: networks.vae), into: networks.vae)
    var skipped: [String] = []
    var unused: [String] = []
    for key in checkpoint.file.tensorNames where !used.contains(key) {
      let layers = (configurations.secondTextEncoder ?? configurations.textEncoder).numHiddenLayers
      if checkpoint.ignoredReason(for: key, textEncoderLayers: layers) != nil {
        skipped.append(key)
      } else {
        unused.append(key)
      }
    }
    guard unused.isEmpty else {
      throw ModelLoadingError(
        folder: path, component: nil,
        cause: .weights(.unused(keys: Array(unused.prefix(5)), count: unused.count, file: path)))
    }
    reports["unet"]?.skippedKeys = skipped
    reports["unet"]?.seconds = Date().timeIntervalSince(start)
    self.init(
      networks: networks, checkpoint: checkpoint, schedulerConfigurationFile: configurations.schedulerConfigurationFile,
      predictionType: decided, loadReports: reports)
  }

  /// Checks that a configuration folder describes the checkpoint's family: its UNet's input channels and
  /// cross-attention width.
  /// - Throws: ``ModelLoadingError`` with `ConfigurationError.invalid` naming the folder's `unet/config.json` field.
  private static func check(
    _ configurations: ModelConfigurations, fit family: CheckpointFamily, folder: String, file: String
  ) throws(ModelLoadingError) {
    let unetFile = URL(fileURLWithPath: folder).appendingPathComponent("unet/config.json").path
    func invalid(_ field: String, _ reason: String) -> ModelLoadingError {
      ModelLoadingError(
        folder: file, component: "unet", cause: .configuration(.invalid(file: unetFile, field: field, reason: reason)))
    }
    if configurations.unet.inChannels != family.unetInputChannels {
      throw invalid(
        "in_channels", "\(configurations.unet.inChannels), but the checkpoint's UNet takes \(family.unetInputChannels)")
    }
    if let width = configurations.unet.resolvedCrossAttentionWidths.first, width != family.crossAttentionWidth {
      throw invalid(
        "cross_attention_dim",
        "\(width), but the checkpoint's is \(family.crossAttentionWidth) (\(family.generation.rawValue))")
    }
  }
}
