import BlendedLatent
import TensorCore

/// What the command does with progress reports: keep going or stop (Ctrl-C was pressed).
public enum ProgressReply: Sendable, Equatable {
  /// Continue the work.
  case proceed
  /// Stop as soon as possible and throw; the command then removes every partial output.
  case stop
}

/// A progress report from a backend: `completed` of `total` units of the named phase.
public struct EditPhaseProgress: Sendable, Equatable {
  /// The phase, shown in the progress bar. Conventional names are the static constants below.
  public var phase: String
  /// Units done (0 … total).
  public var completed: Int
  /// Units in the phase (≥ 1).
  public var total: Int

  /// Creates a report.
  public init(phase: String, completed: Int, total: Int) {
    self.phase = phase
    self.completed = completed
    self.total = total
  }

  /// Reading weights (units: components or files).
  public static let loading = "loading"
  /// Encoding the source image.
  public static let encoding = "encoding"
  /// The blended denoising loop (units: steps).
  public static let denoising = "denoising"
  /// Decoding latents to pixels (units: images).
  public static let decoding = "decoding"
  /// Background reconstruction (units: optimisation iterations).
  public static let background = "background"
  /// CLIP ranking (units: images).
  public static let ranking = "ranking"
}

/// The callback a backend calls between units of work; it must stop (throwing any error) on `.stop`.
public typealias EditProgressHandler = (EditPhaseProgress) -> ProgressReply

/// One edit at working resolution, prepared by the command.
public struct EditJob: Sendable {
  /// `[3, H, W]` RGB in [0, 1] at the working size (sides multiples of the editor's `sizeMultiple`).
  public var image: Tensor
  /// `[H, W]` mask in [0, 1] at the working size (1 = edit); binary unless the mask file had soft edges.
  public var mask: Tensor
  /// The seed to use (given or chosen at random).
  public var seed: UInt64
  /// All settings (prompt, steps, guidance, scheduler, background, …).
  public var settings: EditSettings

  /// Creates a job.
  public init(image: Tensor, mask: Tensor, seed: UInt64, settings: EditSettings) {
    self.image = image
    self.mask = mask
    self.seed = seed
    self.settings = settings
  }
}

/// What an editor returns.
public struct EditOutcome: Sendable {
  /// `settings.batchSize` images, each `[3, H, W]` in [0, 1] at the working size, in output order
  /// (best first when ranked).
  public var images: [Tensor]
  /// Ranking scores aligned with `images` as the ranker reports them (e.g. the CLIP cosine distance to
  /// the prompt, lower is better), or `nil` without ranking. `images` is already in ranked order, best first.
  public var scores: [Double]?
  /// Seconds spent per phase (`"encoding"`, `"denoising"`, …), reported in `--json`.
  public var timings: [String: Double]

  /// Creates an outcome.
  public init(images: [Tensor], scores: [Double]? = nil, timings: [String: Double] = [:]) {
    self.images = images
    self.scores = scores
    self.timings = timings
  }
}

/// A loaded model, ready to edit.
public protocol PreparedEditor {
  /// The resolution the model was trained at (512 for SD 1.5 and 2.1-base); working images have this
  /// longer side.
  var nativeResolution: Int { get }
  /// Working sides are multiples of this (VAE factor × UNet downsampling, e.g. 64).
  var sizeMultiple: Int { get }
  /// One line naming the model, e.g. "Stable Diffusion 2.x (v-prediction) from /models/sd21".
  var modelDescription: String { get }
  /// Lines the command shows the user on standard error and lists in `--json` (e.g. that the demonstration
  /// model's weights are random).
  var notices: [String] { get }

  /// Runs the edit. Calls `progress` between units of work and stops by throwing when it answers `.stop`.
  /// - Throws: any error; the command reports it in one line and writes nothing.
  func edit(_ job: EditJob, progress: EditProgressHandler) throws -> EditOutcome
}

/// Loads models for `bld edit`: the seam between the command and the pipeline.
///
/// The command does everything around the model: parsing, reading and checking the image and mask,
/// working geometry (`--crop-to-mask`, resizing to the native resolution), pasting back, quantising and
/// writing files atomically, progress, cancellation and the JSON summary. A backend only turns settings
/// into a ``PreparedEditor``. `bld` uses ``defaultEditBackend()``; tests pass fakes.
public protocol EditBackend {
  /// Loads the model named by `settings.modelDirectory` (or the built-in demonstration model when `nil`)
  /// and the ranking model if `settings.rankingModelDirectory` is set.
  /// - Throws: any error (missing files, bad weights); reported in one line.
  func prepareEditor(settings: EditSettings, progress: EditProgressHandler) throws
    -> any PreparedEditor
}
