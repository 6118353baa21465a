import BlendedLatent
import Foundation
import FuzzSupport
import Networks

/// One fuzzer input: the input as every configuration file the loaders read — UNet, VAE, CLIP text and vision,
/// CLIPModel, model_index.json, the scheduler — decoded and validated, and every error's description built.
func fuzzConfiguration(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = UnsafeRawBufferPointer(start: data, count: size)
  let url = ScratchFile.write(bytes, named: "config.json")
  func attempt<T>(_ body: () throws -> T) {
    do { _ = try body() } catch { _ = "\(error)" }
  }
  attempt { try UNetConfiguration.decode(contentsOf: url) }
  attempt { try AutoencoderKLConfiguration.decode(contentsOf: url) }
  attempt { try CLIPTextConfiguration.decode(contentsOf: url) }
  attempt { try CLIPModelConfiguration.decode(data: Data(bytes), file: "config.json") }
  attempt { try ModelIndex.decode(contentsOf: url) }
  attempt { try SchedulerConfiguration.decode(contentsOf: url) }
  return 0
}
