import BlendedLatent

extension CancellationToken {
  /// Throws ``EditCommandError/cancelled`` when cancelled (Ctrl-C, SIGTERM).
  package func check() throws {
    if isCancelled { throw EditCommandError.cancelled }
  }
}
