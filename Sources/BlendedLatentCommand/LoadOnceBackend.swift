import BlendedLatent

/// A backend that loads the model on the first job and hands the same editor to every later one, so that
/// `bld batch` loads its model once (and not at all when every job of the shard is already done).
///
/// Every job of a run has the same model options (they are options of the run, not of a line), so the first
/// job's settings load the model for all of them. A failed load is remembered and rethrown.
package final class LoadOnceBackend: EditBackend {
  private let backend: any EditBackend
  private var loaded: Result<any PreparedEditor, any Error>?

  /// Wraps the backend that does the loading.
  package init(_ backend: any EditBackend) { self.backend = backend }

  /// The editor, once loaded.
  package var editor: (any PreparedEditor)? { try? loaded?.get() }

  /// Whether loading was tried and failed.
  package var loadFailed: Bool {
    if case .failure = loaded { return true }
    return false
  }

  /// The loaded editor; loads it on the first call.
  package func prepareEditor(settings: EditSettings, progress: ProgressHandler) throws -> any PreparedEditor {
    if let loaded { return try loaded.get() }
    let result = Result { try backend.prepareEditor(settings: settings, progress: progress) }
    loaded = result
    return try result.get()
  }
}
