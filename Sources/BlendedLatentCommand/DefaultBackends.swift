import Foundation

/// The backend `bld edit` uses: loads `--model` (or the built-in demonstration model) and edits with
/// `BlendedLatentEditor`.
package func defaultEditBackend() -> any EditBackend { PipelineEditBackend() }

/// The inspector `bld inspect` uses: reads a diffusers folder's configurations and weight headers.
package func defaultModelInspector() -> any ModelInspecting { ModelDirectoryInspector() }
