import Foundation
import Networks
import TensorCore

/// One tiny model fixture written by `Tests/Reference/make_network_fixtures.py`: a diffusers folder plus
/// `io.safetensors` with inputs and reference outputs.
struct NetworkFixture {
  static let names = ["sd1-tiny", "sd2-tiny", "custom-tiny"]

  /// The weight variant each fixture folder is written with.
  static let variants: [String: String] = ["custom-tiny": "bf16", "sdxl-tiny": "fp16"]

  let name: String
  let folder: URL
  let io: SafetensorsFile

  init(_ name: String) throws {
    guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
      throw CocoaError(.fileNoSuchFile)
    }
    self.name = name
    folder = fixtures.appendingPathComponent(name, isDirectory: true)
    io = try SafetensorsFile(contentsOf: folder.appendingPathComponent("io.safetensors"))
  }

  var directory: ModelDirectory {
    ModelDirectory(
      root: folder.appendingPathComponent("model", isDirectory: true), variant: Self.variants[name])
  }

  func tensor(_ key: String) throws -> Tensor { try io.tensor(named: key) }

  /// The stored token ids (saved as floats) as integer rows.
  func tokenIDs() throws -> [[Int]] {
    let ids = try tensor("clip.input_ids")
    let length = ids.shape[1]
    return (0..<ids.shape[0]).map { row in (0..<length).map { Int(ids.scalars[row * length + $0]) }
    }
  }

  /// A writable copy of the model folder in a fresh temporary directory.
  func temporaryCopy() throws -> ModelDirectory {
    let destination = FileManager.default.temporaryDirectory
      .appendingPathComponent("networks-\(name)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.copyItem(at: directory.root, to: destination)
    return ModelDirectory(root: destination, variant: Self.variants[name])
  }
}
