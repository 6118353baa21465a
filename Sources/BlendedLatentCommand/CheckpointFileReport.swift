import Foundation
import Networks
import TensorCore

/// `bld inspect FILE`: what a single-file checkpoint holds, from its header alone.
struct CheckpointFileReport {
  let file: String
  let family: CheckpointFamily
  let tensorCount: Int
  let parameterCount: Int
  /// Parameters per dtype name (`F16`, `F32`, …).
  let parametersByDType: [String: Int]

  /// Reads the header of `url` (pickles are refused first, nothing else is read).
  /// - Throws: `SingleFileCheckpointError`, `SafetensorsError`.
  init(url: URL) throws {
    family = try CheckpointFamily(contentsOf: url)
    let header = try SafetensorsFile(contentsOf: url)
    file = url.path
    tensorCount = header.entries.count
    var byDType: [String: Int] = [:]
    for entry in header.entries.values { byDType[entry.dtype.rawValue, default: 0] += entry.shape.reduce(1, *) }
    parametersByDType = byDType
    parameterCount = byDType.values.reduce(0, +)
  }

  /// The human-readable report.
  var text: String {
    let dtypes = parametersByDType.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    return """
      file: \(file)
      family: \(family)
      UNet input channels: \(family.unetInputChannels)\(family.isInpainting ? " (inpainting)" : "")
      tensors: \(tensorCount), parameters: \(parameterCount) (\(dtypes))

      """
  }

  /// One JSON object on one line.
  func jsonLine() -> String {
    let object: [String: Any] = [
      "file": file, "family": family.generation.rawValue, "inpainting": family.isInpainting,
      "unet_input_channels": family.unetInputChannels, "cross_attention_width": family.crossAttentionWidth,
      "tensors": tensorCount, "parameters": parameterCount, "parameters_by_dtype": parametersByDType,
    ]
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
  }
}
