import Foundation

/// An image's width and height read from its header alone (PNG `IHDR`, JPEG start-of-frame), so sizes can be
/// compared and memory planned before any pixel is decoded.
package struct ImageDimensions: Sendable, Equatable {
  /// Pixels per row.
  package let width: Int
  /// Rows.
  package let height: Int

  /// Dimensions of a known size.
  package init(width: Int, height: Int) {
    self.width = width
    self.height = height
  }

  /// The dimensions in a PNG or JPEG file's bytes, or `nil` when the header cannot be read (the decoder then
  /// reports the precise error).
  package init?(encoded data: Data) {
    let bytes = [UInt8](data.prefix(12))
    switch ImageFormat.detect(header: bytes) {
    case .png:
      guard let size = Self.pngSize(data) else { return nil }
      (width, height) = size
    case .jpeg:
      guard let size = Self.jpegSize(data) else { return nil }
      (width, height) = size
    default: return nil
    }
  }

  private static func bigEndian(_ data: Data, _ offset: Int, _ count: Int) -> Int? {
    let start = data.startIndex + offset
    guard offset >= 0, start + count <= data.endIndex else { return nil }
    return data[start..<(start + count)].reduce(0) { $0 << 8 | Int($1) }
  }

  /// Width and height of the `IHDR` chunk, which the format requires first (bytes 16–23).
  private static func pngSize(_ data: Data) -> (Int, Int)? {
    guard data.count >= 24, data[data.startIndex + 12..<data.startIndex + 16].elementsEqual("IHDR".utf8),
      let width = bigEndian(data, 16, 4), let height = bigEndian(data, 20, 4)
    else { return nil }
    return (width, height)
  }

  /// Width and height of the first start-of-frame marker (SOF0–SOF15 except DHT, JPG and DAC).
  private static func jpegSize(_ data: Data) -> (Int, Int)? {
    var offset = 2  // after SOI
    while offset + 4 <= data.count {
      guard data[data.startIndex + offset] == 0xFF else { return nil }
      let marker = data[data.startIndex + offset + 1]
      if marker == 0xFF {  // fill byte
        offset += 1
        continue
      }
      if marker == 0x01 || (0xD0...0xD8).contains(marker) {  // markers without a length
        offset += 2
        continue
      }
      guard let length = bigEndian(data, offset + 2, 2), length >= 2 else { return nil }
      if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
        guard let height = bigEndian(data, offset + 5, 2), let width = bigEndian(data, offset + 7, 2) else {
          return nil
        }
        return (width, height)
      }
      offset += 2 + length
    }
    return nil
  }
}
