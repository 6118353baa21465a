import Foundation

/// The machine-readable result of `bld edit`, printed on standard output with `--json`
/// (keys in snake_case, sorted).
public struct EditSummary: Codable, Sendable, Equatable {
  /// A width and height in pixels.
  public struct Size: Codable, Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
  }

  /// The edited region of the original image.
  public struct Region: Codable, Sendable, Equatable {
    /// Left column.
    public var x: Int
    /// Top row.
    public var y: Int
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
  }

  /// The settings that shaped the result.
  public struct Settings: Codable, Sendable, Equatable {
    /// The prompt.
    public var prompt: String
    /// The negative prompt.
    public var negativePrompt: String
    /// `--steps`.
    public var steps: Int
    /// Steps actually run: `Int(steps · strength)`.
    public var stepsRun: Int
    /// `--guidance`.
    public var guidance: Double
    /// `--strength`.
    public var strength: Double
    /// `--batch`.
    public var batch: Int
    /// `--scheduler`.
    public var scheduler: String
    /// `--background`.
    public var background: String
    /// `--mask-shrink`.
    public var maskShrink: Int
    /// `--mask-downsample`.
    public var maskDownsample: String
    /// `--crop-to-mask` padding, or `nil`.
    public var cropToMask: Int?
    /// `--feather`.
    public var feather: Int
    /// `--working-size`.
    public var workingSize: String
    /// The compute threads used: `--threads`, or the default (`OMP_NUM_THREADS`, else the CPUs this process
    /// may use: affinity mask and cgroup quota).
    public var threads: Int
    /// `--precision`.
    public var precision: String
  }

  /// Written files, in order (best first when ranked).
  public var outputs: [String]
  /// The seed used.
  public var seed: UInt64
  /// Whether the seed was chosen at random (no `--seed`).
  public var seedWasRandom: Bool
  /// The model, as the editor describes it.
  public var model: String
  /// The editor's notices (e.g. that the demonstration model's weights are random).
  public var notices: [String]
  /// Ranking scores aligned with `outputs`, or `nil` without `--rank-with`.
  public var scores: [Double]?
  /// The input (and output) size.
  public var image: Size
  /// The size the model worked at.
  public var workingSize: Size
  /// The edited region of the input (the whole image unless `--crop-to-mask`).
  public var region: Region
  /// Seconds per phase: `load_images`, `load_model`, `edit` (plus the editor's own phases), `write`, `total`.
  public var timings: [String: Double]
  /// The settings used.
  public var settings: Settings

  /// The summary as one line of JSON (sorted snake_case keys).
  public func jsonLine() -> String {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(self) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
  }
}
