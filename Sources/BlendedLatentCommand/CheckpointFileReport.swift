import Foundation
import Networks
import TensorCore

/// `bld inspect FILE`: what a single-file checkpoint holds: family, tensors and dtypes from its header, and the
/// prediction type (from the metadata, or for SD 2.x files the one-step probe, which reads the UNet).
struct CheckpointFileReport {
  let file: String
  let family: CheckpointFamily
  /// The prediction type and what decided it, or why it could not be decided.
  let prediction: Result<(PredictionType, SingleFileCheckpoint.PredictionTypeEvidence), ModelLoadingError>
  let tensorCount: Int
  let parameterCount: Int
  /// Parameters per dtype name (`F16`, `F32`, …).
  let parametersByDType: [String: Int]

  /// Reads the header of `url` (pickles are refused first) and decides the prediction type.
  /// - Throws: `SingleFileCheckpointError`.
  init(url: URL) throws {
    let checkpoint = try SingleFileCheckpoint(contentsOf: url)
    family = checkpoint.family
    prediction = Result { () throws(ModelLoadingError) in try checkpoint.decidePredictionType() }
    let header = checkpoint.file
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
      prediction type: \(predictionText)
      tensors: \(tensorCount), parameters: \(parameterCount) (\(dtypes))

      """
  }

  /// `v_prediction (one-step UNet probe)`, or `unknown (…)`.
  private var predictionText: String {
    switch prediction {
    case .success(let (type, evidence)): "\(type.rawValue) (\(evidence.rawValue))"
    case .failure(let error): "unknown (\(error.description))"
    }
  }

  /// One JSON object on one line.
  func jsonLine() -> String {
    let object: [String: Any] = [
      "file": file, "family": family.generation.rawValue, "inpainting": family.isInpainting,
      "unet_input_channels": family.unetInputChannels, "cross_attention_width": family.crossAttentionWidth,
      "tensors": tensorCount, "parameters": parameterCount, "parameters_by_dtype": parametersByDType,
      "prediction_type": (try? prediction.get().0.rawValue) ?? NSNull(),
    ]
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
  }
}
