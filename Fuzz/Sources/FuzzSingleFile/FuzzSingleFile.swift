import Foundation
import FuzzSupport
import Networks

/// The tiny SD 2.x folder (`Tests/NetworksTests/Fixtures/sd2-tiny/model`) whose configurations and tokenizer the
/// loads use (its weights are not read): a header that passes family detection with cross-attention width 24 is
/// loaded into tiny networks, so the key tables, the views (OpenCLIP's fused projections, reshaped and transposed
/// tensors) and the strict checks all run on fuzzed shapes.
let configurationFolder = ModelDirectory(
  root: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Tests/NetworksTests/Fixtures/sd2-tiny/model", isDirectory: true))

/// The zero bytes after the header: enough for the tiny checkpoints' tensors (a sparse file, so nothing is written).
let dataSectionSize: off_t = 4 << 20

/// One fuzzer input: the JSON header of a single-file (LDM layout) checkpoint. It is written as a `.safetensors`
/// file (length, header, then a sparse zero data section) and opened as a checkpoint — pickle sniffing, header
/// validation, family detection, the ignore rules for every key, the declared prediction type — then loaded
/// strictly with the tiny folder's configurations; every error's description is built.
func fuzzSingleFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let url = ScratchFile.folder.appendingPathComponent("checkpoint.safetensors")
  let descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
  guard descriptor >= 0 else { return 0 }
  var length = UInt64(size).littleEndian
  let written = withUnsafeBytes(of: &length) { write(descriptor, $0.baseAddress, 8) } + write(descriptor, data, size)
  let extended = ftruncate(descriptor, off_t(8 + size) + dataSectionSize)
  close(descriptor)
  guard written == 8 + size, extended == 0 else { return 0 }

  do {
    let checkpoint = try SingleFileCheckpoint(contentsOf: url)
    for key in checkpoint.file.tensorNames {
      _ = checkpoint.ignoredReason(for: key, textEncoderLayers: 2)
    }
    _ = checkpoint.declaredPredictionType
    _ = "\(checkpoint.family)"
    for component in SingleFileCheckpoint.Component.allCases { _ = checkpoint.prefix(of: component) }
  } catch {
    _ = "\(error)"
    return 0
  }
  do {
    _ = try StableDiffusionModel(checkpoint: url, configurations: configurationFolder, predictionType: .epsilon)
  } catch {
    _ = "\(error)"
  }
  return 0
}
