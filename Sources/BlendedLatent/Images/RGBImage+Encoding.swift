internal import CImageShims
import Foundation
import TensorCore

extension RGBImage {
  /// Encodes the image as an 8-bit PNG: RGB, or RGBA when it has alpha. 16-bit samples are reduced
  /// with `round(v · 255 / 65535)`.
  /// - Parameter shouldStop: asked after every encoded row; `true` abandons the encode (a cancelled edit of a
  ///   100-megapixel image need not wait for the whole encode).
  /// - Throws: ``ImageFileError/encodingFailed(file:detail:)`` (file "PNG data") when libpng fails, with detail
  ///   "cancelled" when `shouldStop` answered `true`.
  public func pngData(shouldStop: (() -> Bool)? = nil) throws -> Data {
    let channels = alpha == nil ? 3 : 4
    let plane = width * height
    var bytes = [UInt8](repeating: 0, count: channels * plane)
    let reduce: (UInt16) -> UInt8 =
      depth == .eight ? { UInt8($0) } : { UInt8((UInt32($0) * 255 + 32767) / 65535) }
    for i in 0..<plane {
      for c in 0..<3 { bytes[channels * i + c] = reduce(samples[3 * i + c]) }
      if let alpha { bytes[channels * i + 3] = reduce(alpha[i]) }
    }
    return try RGBImage.encodePNG(bytes, width: width, height: height, channels: channels, shouldStop: shouldStop)
  }

  /// Encodes an `[H, W]` tensor in [0, 1] as an 8-bit gray PNG (`round(255 · v)` after clamping).
  /// - Parameter gray: `[H, W]` with positive extents.
  /// - Throws: ``ImageFileError/encodingFailed(file:detail:)`` for another shape or when libpng fails.
  public static func grayPNGData(_ gray: Tensor) throws -> Data {
    guard gray.rank == 2, gray.shape[0] > 0, gray.shape[1] > 0 else {
      throw ImageFileError.encodingFailed(file: "PNG data", detail: "expected an [H, W] tensor, got \(gray.shape)")
    }
    let bytes = gray.scalars.map { eightBitSample($0) }
    return try encodePNG(bytes, width: gray.shape[1], height: gray.shape[0], channels: 1, shouldStop: nil)
  }

  private static func encodePNG(
    _ bytes: [UInt8], width: Int, height: Int, channels: Int, shouldStop: (() -> Bool)?
  ) throws -> Data {
    var output: UnsafeMutablePointer<UInt8>?
    var size = 0
    var message = [CChar](repeating: 0, count: 256)
    let status = bytes.withUnsafeBufferPointer { pixels in
      guard let shouldStop else {
        return bld_png_encode(
          pixels.baseAddress!, Int32(width), Int32(height), Int32(channels), &output, &size, nil, nil, &message, 256)
      }
      return withoutActuallyEscaping(shouldStop) { check in
        var question = check
        return withUnsafeMutablePointer(to: &question) { context in
          bld_png_encode(
            pixels.baseAddress!, Int32(width), Int32(height), Int32(channels), &output, &size,
            { context in context!.assumingMemoryBound(to: (() -> Bool).self).pointee() ? 1 : 0 }, context,
            &message, 256)
        }
      }
    }
    defer { bld_image_free(output) }
    guard status == Int32(BLD_IMAGE_OK), let output else {
      let text = String(
        decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      throw ImageFileError.encodingFailed(
        file: "PNG data", detail: text.isEmpty ? "libpng error" : text)
    }
    return Data(bytes: output, count: size)
  }
}
