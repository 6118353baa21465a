import Foundation
import TensorCore

/// Why a single-file checkpoint (the original LDM / AUTOMATIC1111 layout) cannot be used.
public enum SingleFileCheckpointError: Error, CustomStringConvertible, LocalizedError, Sendable {
  /// A pickle file (`.ckpt`, `.pt`, `.pth`, `.bin`): unpickling can run arbitrary code, so it is never opened.
  case pickleFile(file: String)
  /// The file is not a readable safetensors file.
  case unreadable(file: String, underlying: SafetensorsError)
  /// The keys and shapes match no supported family; `keys` are some of the keys that decided it.
  case unknownLayout(file: String, reason: String, keys: [String])

  /// One line naming the file and what to do.
  public var description: String {
    switch self {
    case .pickleFile(let file):
      "\(file) is a pickle checkpoint, which can run arbitrary code when loaded, so it is not opened; convert it to "
        + ".safetensors first (for example with diffusers' scripts/convert_original_stable_diffusion_to_diffusers.py "
        + "or safetensors.torch.save_file in a trusted environment)"
    case .unreadable(_, let underlying): "\(underlying)"
    case .unknownLayout(let file, let reason, let keys):
      "\(file): not a Stable Diffusion checkpoint this package can load: \(reason) (keys: \(keys.joined(separator: ", ")))"
    }
  }

  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
