/// An image container format, recognised from a file's first bytes (never from its name).
public enum ImageFormat: String, Sendable, Equatable, CaseIterable {
  /// Portable Network Graphics: read (8/16-bit gray, gray+alpha, RGB, RGBA, palette) and written.
  case png
  /// JPEG/JFIF: read (baseline and progressive; gray, YCbCr, CMYK/YCCK).
  case jpeg
  /// Recognised but not read: the remaining formats exist only to give a precise error.
  case gif, bmp, webp, tiff

  /// Whether this package decodes the format.
  public var isReadable: Bool { self == .png || self == .jpeg }

  /// The format whose signature `header` starts with, or `nil` when none matches.
  /// - Parameter header: the first bytes of a file (12 are enough).
  public static func detect<Bytes: Collection<UInt8>>(header: Bytes) -> ImageFormat? {
    let bytes = Array(header.prefix(12))
    func starts(_ signature: [UInt8], at offset: Int = 0) -> Bool {
      bytes.count >= offset + signature.count
        && Array(bytes[offset..<offset + signature.count]) == signature
    }
    if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
    if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
    if starts(Array("GIF8".utf8)) { return .gif }
    if starts(Array("BM".utf8)) { return .bmp }
    if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .webp }
    if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
    return nil
  }
}
