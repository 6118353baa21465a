/// What ``EditingService/events(for:preview:)`` streams for one edit: progress reports, then the result.
public enum EditEvent: Sendable {
  /// A denoising step (with its timestep and, when asked, a preview) or a decoder fine-tuning iteration (with
  /// its loss) completed.
  case progress(EditProgress)
  /// The edit finished; the last event of the stream.
  case finished(EditResult)
}
