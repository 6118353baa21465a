import Foundation
import FuzzSupport
import Networks

/// The OpenAI CLIP tokenizer, built once.
let shippedTokenizer = try? CLIPTokenizer.openAICLIP(.clipViTL)

/// One fuzzer input. First byte even: the rest is a prompt for the shipped tokenizer (pre-tokenisation, byte-level
/// BPE, truncation). Odd: the rest is `vocab.json` and `merges.txt` separated by a NUL byte, loaded as a tokenizer
/// folder that then encodes a fixed prompt.
func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  guard size > 0 else { return 0 }
  let rest = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
  if data[0] & 1 == 0 {
    _ = shippedTokenizer?.encode(String(decoding: rest, as: UTF8.self))
    return 0
  }
  let split = rest.firstIndex(of: 0) ?? rest.count
  let vocabulary = UnsafeRawBufferPointer(rebasing: rest[0..<split])
  let merges = UnsafeRawBufferPointer(rebasing: rest[min(split + 1, rest.count)...])
  let folder = ScratchFile.folder.appendingPathComponent("tokenizer", isDirectory: true)
  try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("vocab.json").path, contents: Data(vocabulary))
  _ = FileManager.default.createFile(atPath: folder.appendingPathComponent("merges.txt").path, contents: Data(merges))
  if let tokenizer = try? CLIPTokenizer(directory: folder) {
    _ = tokenizer.encode("a photo of a cat wearing a hat, 4k <|endoftext|> émoji 🎩")
  }
  return 0
}
