import Foundation
import TensorCore

/// Strict loading of safetensors checkpoints into a layer tree through its `ParameterRegistry`.
///
/// Every registered parameter must be present with exactly its shape, and every tensor in the files must be
/// used (apart from a small allow-list of buffers such as CLIP's `position_ids`). F32, F16 and BF16 tensors
/// are accepted; layers that keep ``StoredTensor`` weights (linear, convolution, embedding) keep them in the
/// file's dtype, in memory or in the mapped file as the ``WeightResidency`` says; other parameters (norms,
/// biases) are widened to float32 on load.
public enum WeightLoader {
  /// Buffers that published checkpoints carry but no layer needs.
  public static let defaultIgnoredKeys: Set<String> = [
    "text_model.embeddings.position_ids", "embeddings.position_ids",
  ]

  /// Loads `files` into `layer`.
  /// - Parameters:
  ///   - files: the component's weight files.
  ///   - layer: the network to fill.
  ///   - renaming: file-key rewrites applied before matching.
  ///   - ignoredKeys: canonical or file keys that may be present and are skipped.
  ///   - residency: where the weights live after loading (default: copied into memory).
  /// - Returns: what was loaded.
  /// - Throws: `WeightLoadingError` for a missing, unused, mis-shaped or unsupported tensor, naming key and file,
  ///   or an unreadable file. On error the layer may be partially loaded.
  @discardableResult
  public static func load(
    _ files: WeightFiles, into layer: any Layer, renaming: KeyRenaming = .identity,
    ignoredKeys: Set<String> = defaultIgnoredKeys, residency: WeightResidency = .memory
  ) throws -> LoadReport {
    let start = Date()
    var opened: [SafetensorsFile] = []
    for url in files.urls {
      do {
        opened.append(try SafetensorsFile(contentsOf: url))
      } catch let error as SafetensorsError {
        throw WeightLoadingError.unreadable(file: url.path, underlying: error)
      }
    }
    // Canonical key → (file, file key).
    var available: [String: (file: SafetensorsFile, name: String)] = [:]
    let allNames = opened.flatMap { $0.tensorNames }
    let canonical = renaming.canonicalKeys(for: allNames)
    for file in opened {
      for name in file.tensorNames {
        let key = canonical[name] ?? name
        if let earlier = available[key] {
          throw WeightLoadingError.duplicate(
            key: name, files: [earlier.file.url.path, file.url.path])
        }
        available[key] = (file, name)
      }
    }

    var report = try assign(
      available.mapValues { TensorSource(file: $0.file, key: $0.name) }, to: layer, residency: residency,
      description: files.description)
    for entry in layer.parameterEntries { available[entry.key] = nil }
    let leftover = available.filter {
      !ignoredKeys.contains($0.key) && !ignoredKeys.contains($0.value.name)
    }
    if !leftover.isEmpty {
      let sorted = leftover.values.sorted { $0.name < $1.name }
      throw WeightLoadingError.unused(
        keys: sorted.prefix(5).map(\.name), count: sorted.count,
        file: sorted[0].file.url.path)
    }
    report.files = files.urls.map(\.path)
    report.skippedKeys = available.values.map(\.name).sorted()
    report.seconds = Date().timeIntervalSince(start)
    return report
  }

  /// Fills every parameter of `layer` from its source, checking dtype and shape; the caller decides what to do
  /// with tensors no parameter uses.
  /// - Parameters:
  ///   - sources: canonical parameter key → where its values are.
  ///   - layer: the network to fill.
  ///   - residency: where the weights live after loading.
  ///   - description: the checkpoint, for a parameter with no source.
  /// - Returns: what was loaded (`files`, `skippedKeys` and `seconds` are left for the caller).
  /// - Throws: `WeightLoadingError` for a missing, mis-shaped or unsupported tensor, naming the file's key.
  static func assign(
    _ sources: [String: TensorSource], to layer: any Layer, residency: WeightResidency, description: String
  ) throws -> LoadReport {
    var report = LoadReport(
      files: [], tensorCount: 0, scalarCount: 0, byteCount: 0, skippedKeys: [], seconds: 0)
    for entry in layer.parameterEntries {
      guard let source = sources[entry.key] else {
        throw WeightLoadingError.missing(key: entry.key, file: description)
      }
      let path = source.file.url.path
      guard let stored = source.file.entries[source.key] else {
        throw WeightLoadingError.missing(key: source.key, file: path)
      }
      guard [.float32, .float16, .bfloat16].contains(stored.dtype) else {
        throw WeightLoadingError.unsupportedDType(key: source.key, file: path, dtype: stored.dtype.rawValue)
      }
      guard let view = source.entry(parameterShape: entry.shape), view.shape == entry.shape else {
        throw WeightLoadingError.shapeMismatch(
          key: source.key, file: path, expected: entry.shape, found: stored.shape)
      }
      do {
        entry.assign(try source.storedTensor(view, residency: residency))
      } catch let error as SafetensorsError {
        throw WeightLoadingError.unreadable(file: path, underlying: error)
      }
      report.tensorCount += 1
      report.scalarCount += entry.shape.reduce(1, *)
      report.byteCount += view.byteRange.count
    }
    return report
  }
}
