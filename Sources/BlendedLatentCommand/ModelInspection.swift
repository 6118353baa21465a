import Foundation

/// What `bld inspect DIR` reports about a model folder.
package struct ModelInspection: Codable, Sendable, Equatable {
  /// One component (text encoder, VAE, UNet, …).
  package struct Component: Codable, Sendable, Equatable {
    /// The folder name (`unet`, `vae`, `text_encoder`, `tokenizer`, `scheduler`, …).
    package var name: String
    /// The diffusers/transformers class from its config (`UNet2DConditionModel`, …), if any.
    package var className: String?
    /// Number of parameters (scalars), or `nil` for components without weights.
    package var parameterCount: Int?
    /// Tensor count per stored dtype (`"F16": 686`).
    package var dtypes: [String: Int]
    /// Weight files, relative to the model folder.
    package var files: [String]

    /// Creates a component summary.
    package init(
      name: String, className: String? = nil, parameterCount: Int? = nil,
      dtypes: [String: Int] = [:], files: [String] = []
    ) {
      self.name = name
      self.className = className
      self.parameterCount = parameterCount
      self.dtypes = dtypes
      self.files = files
    }
  }

  /// The folder inspected.
  package var directory: String
  /// The model family, e.g. "Stable Diffusion 2.x" or "Stable Diffusion 1.x".
  package var family: String
  /// `epsilon` or `v_prediction`.
  package var predictionType: String
  /// The native resolution in pixels (VAE sample size).
  package var nativeResolution: Int
  /// The components found.
  package var components: [Component]
  /// Anything else worth saying (missing optional parts, unusual settings).
  package var notes: [String]

  /// Creates an inspection report.
  package init(
    directory: String, family: String, predictionType: String, nativeResolution: Int,
    components: [Component], notes: [String] = []
  ) {
    self.directory = directory
    self.family = family
    self.predictionType = predictionType
    self.nativeResolution = nativeResolution
    self.components = components
    self.notes = notes
  }

  /// The report as readable text (one component per line).
  package var text: String {
    var lines = [
      "model      \(directory)",
      "family     \(family), \(predictionType) prediction",
      "resolution \(nativeResolution)×\(nativeResolution)",
      "components",
    ]
    let width = max(4, components.map(\.name.count).max() ?? 0)
    for component in components {
      var line = "  " + component.name.padding(toLength: width, withPad: " ", startingAt: 0)
      line += "  " + (component.className ?? "-")
      if let count = component.parameterCount { line += "  " + Self.parameters(count) }
      if !component.dtypes.isEmpty {
        line +=
          "  "
          + component.dtypes.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(
            separator: " ")
      }
      lines.append(line)
    }
    let total = components.compactMap(\.parameterCount).reduce(0, +)
    if total > 0 { lines.append("total      \(Self.parameters(total)) parameters") }
    lines += notes.map { "note       \($0)" }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The report as one line of JSON (sorted snake_case keys).
  package func jsonLine() -> String {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(self) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
  }

  /// `"865.9 M"`-style parameter counts.
  static func parameters(_ count: Int) -> String {
    switch count {
    case 1_000_000_000...: String(format: "%.2f G", Double(count) / 1e9)
    case 1_000_000...: String(format: "%.1f M", Double(count) / 1e6)
    case 1_000...: String(format: "%.1f k", Double(count) / 1e3)
    default: "\(count)"
    }
  }
}

/// Reads a model folder for `bld inspect`: the seam the Networks loader fills.
package protocol ModelInspecting {
  /// Describes the model in `directory`.
  /// - Throws: any error (not a model folder, unreadable config); reported in one line.
  func inspect(directory: URL) throws -> ModelInspection
}
