import Foundation
import FuzzSupport
import TensorCore

/// One fuzzer input: the input as a `.safetensors` file (header validation, then every tensor of at most 64 K
/// elements converted to float32) and as a shard index (`model.safetensors.index.json`).
func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = UnsafeRawBufferPointer(start: data, count: size)
  let url = ScratchFile.write(bytes, named: "input.safetensors")
  if let file = try? SafetensorsFile(contentsOf: url) {
    for name in file.tensorNames where (file.entries[name]?.shape.reduce(1, *) ?? 0) <= 65_536 {
      _ = try? file.tensor(named: name)
    }
  }
  return 0
}
