import TensorCore

/// An axis-aligned rectangle of whole pixels: columns `x ..< x + width`, rows `y ..< y + height`.
public struct PixelRegion: Sendable, Equatable, Hashable, CustomStringConvertible {
  /// Left column.
  public var x: Int
  /// Top row.
  public var y: Int
  /// Width in pixels.
  public var width: Int
  /// Height in pixels.
  public var height: Int

  /// Creates a region from its origin and size.
  public init(x: Int, y: Int, width: Int, height: Int) {
    self.x = x
    self.y = y
    self.width = width
    self.height = height
  }

  /// One past the rightmost column.
  public var maxX: Int { x + width }
  /// One past the bottom row.
  public var maxY: Int { y + height }
  /// Whether the region has no pixels.
  public var isEmpty: Bool { width <= 0 || height <= 0 }

  /// Whether `other` lies entirely inside this region.
  public func contains(_ other: PixelRegion) -> Bool {
    other.x >= x && other.y >= y && other.maxX <= maxX && other.maxY <= maxY
  }

  /// `"W×H+X+Y"` (ImageMagick's geometry notation).
  public var description: String { "\(width)×\(height)+\(x)+\(y)" }

  /// The smallest region holding every mask element above `threshold`, or `nil` when there is none.
  /// - Parameters:
  ///   - mask: `[H, W]`.
  ///   - threshold: elements strictly greater than this count as selected (0.5, as the method thresholds masks).
  public static func boundingBox(ofMask mask: Tensor, threshold: Float = 0.5) -> PixelRegion? {
    precondition(mask.rank == 2, "boundingBox expects a [H, W] mask, got \(mask.shape)")
    let (height, width) = (mask.shape[0], mask.shape[1])
    var (minX, minY, maxX, maxY) = (Int.max, Int.max, -1, -1)
    mask.withUnsafeBufferPointer { values in
      for row in 0..<height {
        let base = row * width
        var first = -1
        var last = -1
        for column in 0..<width where values[base + column] > threshold {
          if first < 0 { first = column }
          last = column
        }
        if first >= 0 {
          minX = min(minX, first)
          maxX = max(maxX, last)
          minY = min(minY, row)
          maxY = row
        }
      }
    }
    guard maxX >= 0 else { return nil }
    return PixelRegion(x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1)
  }
}
