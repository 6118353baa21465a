import Foundation
import TensorCore

/// The safetensors files holding one component's weights: a single file, or the shards listed by a
/// `*.safetensors.index.json`.
public struct WeightFiles: Sendable, Equatable {
  /// The files, in the order they are read.
  public var urls: [URL]
  /// The file that describes the set (the single file, or the index), for messages.
  public var description: String

  /// A single safetensors file.
  public init(file: URL) {
    urls = [file]
    description = file.path
  }

  /// Explicit files (for example shards), described by `description`.
  public init(urls: [URL], description: String) {
    self.urls = urls
    self.description = description
  }

  /// The shards listed in a diffusers / transformers `*.safetensors.index.json` (its `weight_map`).
  /// - Throws: `WeightLoadingError.malformedIndex` if the index cannot be read or names no shards.
  public init(index: URL) throws {
    let data: Data
    do { data = try RegularFile.read(index) } catch {
      throw WeightLoadingError.malformedIndex(file: index.path, reason: error.reason)
    }
    let object: Any
    do { object = try JSONSerialization.jsonObject(with: data) } catch {
      throw WeightLoadingError.malformedIndex(file: index.path, reason: "not valid JSON")
    }
    guard let weightMap = (object as? [String: Any])?["weight_map"] as? [String: String],
      !weightMap.isEmpty
    else {
      throw WeightLoadingError.malformedIndex(
        file: index.path, reason: "no 'weight_map' object of key → file name")
    }
    let directory = index.deletingLastPathComponent()
    let names = Set(weightMap.values).sorted()
    for name in names where name.contains("/") || name.hasPrefix(".") {
      throw WeightLoadingError.malformedIndex(
        file: index.path, reason: "shard name '\(name)' is not a file name")
    }
    urls = names.map { directory.appendingPathComponent($0) }
    description = index.path
  }
}
