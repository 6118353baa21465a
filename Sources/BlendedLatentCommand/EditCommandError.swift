/// Why `bld edit` (or `bld inspect`) stopped. Each case prints as one line naming the file or option.
package enum EditCommandError: Error, CustomStringConvertible, Equatable, Sendable {
  /// An output file exists and `--overwrite` was not given.
  case outputExists(path: String)
  /// An output path is the input image or the mask (refused even with `--overwrite`).
  case outputIsInput(output: String, input: String)
  /// The output's folder does not exist or is not a folder.
  case outputDirectoryMissing(path: String)
  /// The output's folder exists but this process may not create files in it.
  case outputDirectoryNotWritable(path: String, reason: String)
  /// The edit would need more memory than the process may use (``MemoryPreflight``).
  case insufficientMemory(purpose: String, needed: String, available: String, limit: String)
  /// Writing an output failed.
  case writeFailed(path: String, reason: String)
  /// The mask's size differs from the image's.
  case maskSizeMismatch(mask: String, maskSize: String, image: String, imageSize: String)
  /// The mask selects no pixel.
  case emptyMask(mask: String)
  /// The user pressed Ctrl-C (or the process got SIGTERM, SIGHUP or SIGQUIT); nothing was written.
  case cancelled
  /// The backend returned the wrong number or shape of images.
  case invalidOutcome(reason: String)
  /// A part the lead has not wired yet (the pipeline or model inspection).
  case unavailable(feature: String)

  /// A one-line explanation.
  package var description: String {
    switch self {
    case .outputExists(let path): "'\(path)' already exists (pass --overwrite to replace it)"
    case .outputIsInput(let output, let input):
      "refusing to write '\(output)': it is the input file '\(input)'"
    case .outputDirectoryMissing(let path): "the output folder '\(path)' does not exist"
    case .outputDirectoryNotWritable(let path, let reason):
      "cannot write to the output folder '\(path)': \(reason)"
    case .insufficientMemory(let purpose, let needed, let available, let limit):
      "\(purpose) needs about \(needed) of memory but only \(available) is left under \(limit)"
    case .writeFailed(let path, let reason): "cannot write '\(path)': \(reason)"
    case .maskSizeMismatch(let mask, let maskSize, let image, let imageSize):
      "mask '\(mask)' is \(maskSize) but image '\(image)' is \(imageSize); they must be the same size"
    case .emptyMask(let mask): "mask '\(mask)' selects no pixel (nothing above 50 %)"
    case .cancelled: "cancelled; no output written"
    case .invalidOutcome(let reason): "the editor returned an invalid result: \(reason)"
    case .unavailable(let feature): "\(feature) is not available in this build"
    }
  }
}
