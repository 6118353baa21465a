internal import CImageShims
import Foundation
import TensorCore

extension RGBImage {
  /// The default largest image accepted by the decoders: 100 megapixels.
  public static let defaultMaximumPixelCount = 100_000_000

  /// Reads a PNG or JPEG file. The format is recognised from the file's first bytes, not its name.
  ///
  /// PNG: 1/2/4/8/16-bit gray, gray+alpha, RGB, RGBA and palette images (with `tRNS` transparency),
  /// interlaced or not; 16-bit samples are kept. Gamma, ICC and sRGB chunks are ignored, as PIL does.
  /// JPEG: baseline and progressive; gray is replicated to RGB; CMYK/YCCK is converted to RGB with
  /// `(255 − C)(255 − K) / 255` per channel (as PIL's `convert("RGB")`). EXIF orientation is not applied.
  ///
  /// - Parameters:
  ///   - url: a file URL.
  ///   - maximumPixelCount: images with more pixels are refused before any pixel memory is allocated.
  ///   - shouldStop: asked every 16 decoded rows (and, for JPEG, while a progressive image's scans are read);
  ///     `true` abandons the decode (a cancelled edit of a large image need not wait for it).
  /// - Throws: ``ImageFileError`` naming the file: `.unreadable` (cannot be read), `.unsupportedFormat`
  ///   (not PNG/JPEG), `.corrupt` (decoder error, including truncation), `.tooLarge`, `.cancelled` when
  ///   `shouldStop` answered `true`.
  public init(
    contentsOf url: URL, maximumPixelCount: Int = RGBImage.defaultMaximumPixelCount,
    shouldStop: (() -> Bool)? = nil
  ) throws {
    let name = url.isFileURL ? url.path : url.absoluteString
    try self.init(
      decoding: Self.readFile(url), fileName: name, maximumPixelCount: maximumPixelCount, shouldStop: shouldStop)
  }

  /// The largest image file read: 2 GiB.
  package static let maximumFileByteCount = 1 << 31

  /// The bytes of an image file, read only if it is a regular file (a FIFO, device or directory is refused at
  /// once, with what it is).
  /// - Throws: ``ImageFileError/unreadable(file:reason:)`` naming the file.
  package static func readFile(_ url: URL) throws(ImageFileError) -> Data {
    do { return try RegularFile.read(url, maximumByteCount: maximumFileByteCount) } catch {
      throw .unreadable(file: url.isFileURL ? url.path : url.absoluteString, reason: error.reason)
    }
  }

  /// Decodes PNG or JPEG bytes held in memory; see ``init(contentsOf:maximumPixelCount:shouldStop:)``.
  /// - Parameters:
  ///   - data: the encoded file.
  ///   - fileName: the name used in errors.
  ///   - maximumPixelCount: images with more pixels are refused.
  ///   - shouldStop: asked every 16 decoded rows (and during a progressive JPEG's scans); `true` abandons the
  ///     decode.
  /// - Throws: ``ImageFileError`` (`.unsupportedFormat`, `.corrupt`, `.tooLarge`, `.cancelled`).
  public init(
    decoding data: Data, fileName: String,
    maximumPixelCount: Int = RGBImage.defaultMaximumPixelCount, shouldStop: (() -> Bool)? = nil
  )
    throws
  {
    if data.isEmpty { throw ImageFileError.corrupt(file: fileName, detail: "the file is empty") }
    guard let format = ImageFormat.detect(header: data.prefix(12)) else {
      throw ImageFileError.unsupportedFormat(
        file: fileName, detail: "not a PNG or JPEG file (unrecognised signature)")
    }
    guard format.isReadable else {
      throw ImageFileError.unsupportedFormat(
        file: fileName,
        detail: "\(format.rawValue.uppercased()) files are not read; convert it to PNG or JPEG")
    }
    var decoded = bld_decoded_image()
    let limit = max(1, maximumPixelCount)
    let status = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int32 in
      let bytes = raw.bindMemory(to: UInt8.self)
      func decode(_ stop: bld_should_stop?, _ context: UnsafeMutableRawPointer?) -> Int32 {
        format == .png
          ? bld_png_decode(bytes.baseAddress!, bytes.count, limit, stop, context, &decoded)
          : bld_jpeg_decode(bytes.baseAddress!, bytes.count, limit, stop, context, &decoded)
      }
      guard let shouldStop else { return decode(nil, nil) }
      return withoutActuallyEscaping(shouldStop) { check in
        var question = check
        return withUnsafeMutablePointer(to: &question) { context in
          decode({ context in context!.assumingMemoryBound(to: (() -> Bool).self).pointee() ? 1 : 0 }, context)
        }
      }
    }
    defer { bld_image_free(decoded.pixels) }
    let message = withUnsafeBytes(of: decoded.message) { raw in
      String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
    let kind = format == .png ? "PNG" : "JPEG"
    switch Int(status) {
    case BLD_IMAGE_OK: break
    case BLD_IMAGE_UNSUPPORTED:
      throw ImageFileError.unsupportedFormat(
        file: fileName, detail: message.isEmpty ? "unsupported \(kind)" : message)
    case BLD_IMAGE_TOO_LARGE:
      throw ImageFileError.tooLarge(file: fileName, detail: message)
    case BLD_IMAGE_NO_MEMORY:
      throw ImageFileError.tooLarge(file: fileName, detail: "out of memory while decoding")
    case BLD_IMAGE_CANCELLED:
      throw ImageFileError.cancelled(file: fileName)
    default:
      throw ImageFileError.corrupt(
        file: fileName, detail: message.isEmpty ? "\(kind) decoder error" : message)
    }
    let width = Int(decoded.width)
    let height = Int(decoded.height)
    let channels = Int(decoded.channels)
    let plane = width * height
    var rgb = [UInt16](repeating: 0, count: 3 * plane)
    var alpha: [UInt16]? = channels == 4 ? [UInt16](repeating: 0, count: plane) : nil
    func copy<Sample: BinaryInteger>(_ source: UnsafePointer<Sample>) {
      for i in 0..<plane {
        let base = i * channels
        rgb[3 * i] = UInt16(source[base])
        rgb[3 * i + 1] = UInt16(source[base + 1])
        rgb[3 * i + 2] = UInt16(source[base + 2])
        if channels == 4 { alpha![i] = UInt16(source[base + 3]) }
      }
    }
    if decoded.bit_depth == 16 {
      copy(decoded.pixels.assumingMemoryBound(to: UInt16.self))
    } else {
      copy(decoded.pixels.assumingMemoryBound(to: UInt8.self))
    }
    self.init(
      width: width, height: height, depth: decoded.bit_depth == 16 ? .sixteen : .eight,
      samples: rgb, alpha: alpha)
  }
}
