import BlendedLatent
import Foundation

/// One fuzzer input: the input as a PNG or JPEG (format sniffing, libpng/libjpeg-turbo through the C shims with
/// their `longjmp` error paths, 16-bit and palette conversion), at most 4 megapixels, then its tensors.
func fuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Data(bytes: data, count: size)
  if let image = try? RGBImage(decoding: bytes, fileName: "input", maximumPixelCount: 4_000_000) {
    _ = image.tensor()
    _ = image.luminanceTensor()
    _ = image.transparencyTensor()
  }
  return 0
}
