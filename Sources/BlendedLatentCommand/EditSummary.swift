import Foundation

/// The machine-readable result of `bld edit`, printed on standard output with `--json`
/// (keys in snake_case, sorted).
package struct EditSummary: Codable, Sendable, Equatable {
  /// A width and height in pixels.
  package struct Size: Codable, Sendable, Equatable {
    /// Width in pixels.
    package var width: Int
    /// Height in pixels.
    package var height: Int
  }

  /// The edited region of the original image.
  package struct Region: Codable, Sendable, Equatable {
    /// Left column.
    package var x: Int
    /// Top row.
    package var y: Int
    /// Width in pixels.
    package var width: Int
    /// Height in pixels.
    package var height: Int
  }

  /// The settings that shaped the result.
  package struct Settings: Codable, Sendable, Equatable {
    /// The prompt.
    package var prompt: String
    /// The negative prompt.
    package var negativePrompt: String
    /// `--steps`.
    package var steps: Int
    /// Steps actually run: `Int(steps · strength)`.
    package var stepsRun: Int
    /// `--guidance`.
    package var guidance: Double
    /// `--strength`.
    package var strength: Double
    /// `--batch`.
    package var batch: Int
    /// `--scheduler`.
    package var scheduler: String
    /// `--background`.
    package var background: String
    /// `--mask-shrink`.
    package var maskShrink: Int
    /// `--mask-downsample`.
    package var maskDownsample: String
    /// `--crop-to-mask` padding, or `nil`.
    package var cropToMask: Int?
    /// `--feather`.
    package var feather: Int
    /// `--working-size`.
    package var workingSize: String
    /// The compute threads used: `--threads`, or the default (`OMP_NUM_THREADS`, else the CPUs this process
    /// may use: affinity mask and cgroup quota).
    package var threads: Int
    /// `--precision`.
    package var precision: String
  }

  /// Written files, in order (best first when ranked).
  package var outputs: [String]
  /// The seed used.
  package var seed: UInt64
  /// Whether the seed was chosen at random (no `--seed`).
  package var seedWasRandom: Bool
  /// The model, as the editor describes it.
  package var model: String
  /// The editor's notices (e.g. that the demonstration model's weights are random).
  package var notices: [String]
  /// Ranking scores aligned with `outputs`, or `nil` without `--rank-with`.
  package var scores: [Double]?
  /// The input (and output) size.
  package var image: Size
  /// The size the model worked at.
  package var workingSize: Size
  /// The edited region of the input (the whole image unless `--crop-to-mask`).
  package var region: Region
  /// Seconds per phase: `load_images`, `load_model`, `edit` (plus the editor's own phases), `write`, `total`.
  package var timings: [String: Double]
  /// The settings used.
  package var settings: Settings

  /// The summary as one line of JSON (sorted snake_case keys).
  package func jsonLine() -> String {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(self) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
  }
}
