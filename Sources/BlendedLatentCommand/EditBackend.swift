import BlendedLatent
import TensorCore

/// A loaded model, ready to edit: what the command needs besides the library's editor.
package protocol PreparedEditor {
  /// The resolution the model was trained at (512 for SD 1.5 and 2.1-base); working images have this
  /// longer side.
  var nativeResolution: Int { get }
  /// Working sides are multiples of this (the autoencoder's factor, 8 for Stable Diffusion).
  var sizeMultiple: Int { get }
  /// One line naming the model, e.g. the folder's path.
  var modelDescription: String { get }
  /// Lines the command shows the user on standard error and lists in `--json` (e.g. that the demonstration
  /// model's weights are random).
  var notices: [String] { get }

  /// Runs the edit. Calls `progress` after every step and iteration and stops by throwing when it answers
  /// `.stop`.
  /// - Throws: any error; the command reports it in one line and writes nothing.
  func edit(_ request: EditRequest, progress: ProgressHandler) throws -> EditResult
}

/// Loads models for `bld edit`: the seam between the command and the pipeline.
///
/// The command does everything around the model: parsing, reading and checking the image and mask,
/// working geometry (`--crop-to-mask`, resizing to the native resolution), pasting back, quantising and
/// writing files atomically, progress, cancellation and the JSON summary. A backend only turns settings
/// into a ``PreparedEditor``. `bld` uses ``defaultEditBackend()``; tests pass fakes.
package protocol EditBackend {
  /// Loads the model named by `settings.modelPath` (or the built-in demonstration model when `nil`)
  /// and the ranking model if `settings.rankingModelDirectory` is set, reporting ``EditPhase/loading``.
  /// - Throws: any error (missing files, bad weights); reported in one line.
  func prepareEditor(settings: EditSettings, progress: ProgressHandler) throws -> any PreparedEditor
}
