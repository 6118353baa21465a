// The seam between the command and the pipeline. The lead replaces these two functions' bodies with the
// real pipeline (BlendedLatentEditor + the built-in demonstration model) and the Networks loader.
import Foundation

/// The backend `bld edit` uses: loads `--model` (or the built-in demonstration model) and edits.
public func defaultEditBackend() -> any EditBackend { UnavailableEditBackend() }

/// The inspector `bld inspect` uses.
public func defaultModelInspector() -> any ModelInspecting { UnavailableModelInspector() }

/// Stands in until the pipeline is wired: every edit fails with a one-line error.
struct UnavailableEditBackend: EditBackend {
  func prepareEditor(settings: EditSettings, progress: EditProgressHandler) throws
    -> any PreparedEditor
  {
    throw EditCommandError.unavailable(feature: "the editing pipeline")
  }
}

/// Stands in until model inspection is wired.
struct UnavailableModelInspector: ModelInspecting {
  func inspect(directory: URL) throws -> ModelInspection {
    throw EditCommandError.unavailable(feature: "model inspection")
  }
}
