import TensorCore

/// A decoded raster image: RGB samples plus an optional alpha channel, 8 or 16 bits per sample.
///
/// Files are read with ``RGBImage/init(contentsOf:maximumPixelCount:)`` (PNG and JPEG, through libpng and
/// libjpeg-turbo) and written with ``RGBImage/pngData()`` (8-bit PNG). Gray files are expanded to RGB
/// (R = G = B), palettes to their colours, PNG transparency (`tRNS`) to an alpha channel. The pipeline
/// works on tensors: ``tensor()`` gives `[3, H, W]` in [0, 1]; ``init(tensor:alpha:)`` quantises back to 8 bits
/// with `round(255 · v)` after clamping to [0, 1].
///
/// Masks: ``luminanceTensor()`` reads a mask image as gray (white = edit, PIL's `convert("L")` weights);
/// ``transparencyTensor()`` turns the alpha channel into a mask where **transparent = edit** (1 − alpha),
/// the inpainting convention (an editor's eraser makes the area to fill transparent).
public struct RGBImage: Sendable, Equatable {
  /// Bits per stored sample.
  public enum SampleDepth: Int, Sendable, Equatable {
    /// Samples in 0…255.
    case eight = 8
    /// Samples in 0…65535.
    case sixteen = 16

    /// The largest sample value (255 or 65535): the value that maps to 1.0.
    public var maximumValue: Int { self == .eight ? 255 : 65535 }
  }

  /// Width in pixels.
  public let width: Int
  /// Height in pixels.
  public let height: Int
  /// Bits per sample of ``samples`` and ``alpha``.
  public let depth: SampleDepth
  /// RGB samples interleaved row by row, top row first: sample `c` of pixel `(x, y)` is at
  /// `3 · (y · width + x) + c`. Every value is at most `depth.maximumValue`.
  public let samples: [UInt16]
  /// Alpha samples (`y · width + x`; 0 = transparent, `depth.maximumValue` = opaque), or `nil` when the
  /// image has no alpha channel.
  public let alpha: [UInt16]?

  /// Creates an image from interleaved samples.
  /// - Precondition: `samples.count == 3 · width · height`, `alpha?.count == width · height`, sizes are
  ///   positive and no sample exceeds `depth.maximumValue`.
  public init(
    width: Int, height: Int, depth: SampleDepth, samples: [UInt16], alpha: [UInt16]? = nil
  ) {
    precondition(width > 0 && height > 0, "RGBImage: size \(width)×\(height) must be positive")
    precondition(
      samples.count == 3 * width * height,
      "RGBImage: \(samples.count) samples for \(width)×\(height)")
    precondition(
      alpha == nil || alpha!.count == width * height, "RGBImage: alpha count \(alpha!.count)")
    if depth == .eight {
      precondition(
        samples.allSatisfy { $0 <= 255 } && (alpha?.allSatisfy { $0 <= 255 } ?? true),
        "RGBImage: 8-bit image with a sample above 255")
    }
    self.width = width
    self.height = height
    self.depth = depth
    self.samples = samples
    self.alpha = alpha
  }

  /// Quantises a `[3, H, W]` tensor in [0, 1] to an 8-bit image: each sample is `round(255 · v)` after
  /// clamping `v` to [0, 1] (NaN becomes 0).
  /// - Parameters:
  ///   - tensor: `[3, H, W]` RGB in [0, 1].
  ///   - alpha: optional `[H, W]` opacity in [0, 1], quantised the same way.
  /// - Throws: ``PipelineError/invalidImageShape(_:)`` unless `tensor` is `[3, H, W]` with `H`, `W` positive;
  ///   ``PipelineError/sizeMismatch(image:mask:)`` when `alpha` is not `[H, W]`.
  public init(tensor: Tensor, alpha: Tensor? = nil) throws(PipelineError) {
    guard tensor.rank == 3, tensor.shape[0] == 3, tensor.shape[1] > 0, tensor.shape[2] > 0 else {
      throw .invalidImageShape(tensor.shape)
    }
    if let alpha, alpha.shape != [tensor.shape[1], tensor.shape[2]] {
      throw .sizeMismatch(image: tensor.shape, mask: alpha.shape)
    }
    let (height, width) = (tensor.shape[1], tensor.shape[2])
    let plane = height * width
    var samples = [UInt16](repeating: 0, count: 3 * plane)
    tensor.withUnsafeBufferPointer { values in
      for c in 0..<3 {
        for i in 0..<plane {
          samples[3 * i + c] = UInt16(RGBImage.eightBitSample(values[c * plane + i]))
        }
      }
    }
    var alphaSamples: [UInt16]?
    if let alpha {
      alphaSamples = alpha.scalars.map { UInt16(RGBImage.eightBitSample($0)) }
    }
    self.init(width: width, height: height, depth: .eight, samples: samples, alpha: alphaSamples)
  }

  /// The 8-bit sample for a value in [0, 1]: `round(255 · v)` after clamping to [0, 1]; NaN gives 0.
  public static func eightBitSample(_ value: Float) -> UInt8 {
    guard value > 0 else { return 0 }  // also catches NaN
    guard value < 1 else { return 255 }
    return UInt8((value * 255).rounded(.toNearestOrAwayFromZero))
  }

  /// Whether the image carries an alpha channel.
  public var hasAlpha: Bool { alpha != nil }

  /// The RGB samples as a `[3, H, W]` tensor in [0, 1] (sample / `depth.maximumValue`).
  public func tensor() -> Tensor {
    let plane = width * height
    let scale = 1 / Float(depth.maximumValue)
    return Tensor(shape: [3, height, width]) { out in
      samples.withUnsafeBufferPointer { input in
        for c in 0..<3 {
          for i in 0..<plane { out[c * plane + i] = Float(input[3 * i + c]) * scale }
        }
      }
    }
  }

  /// The alpha channel as an `[H, W]` tensor in [0, 1] (1 = opaque), or `nil` without alpha.
  public func alphaTensor() -> Tensor? {
    guard let alpha else { return nil }
    let scale = 1 / Float(depth.maximumValue)
    return Tensor(shape: [height, width], scalars: alpha.map { Float($0) * scale })
  }

  /// A mask from the alpha channel where **transparent pixels are the area to edit**: `1 − alpha` as an
  /// `[H, W]` tensor in [0, 1], or `nil` without alpha. This is the `--mask alpha` convention.
  public func transparencyTensor() -> Tensor? {
    guard let alpha else { return nil }
    let maximum = Float(depth.maximumValue)
    return Tensor(shape: [height, width], scalars: alpha.map { (maximum - Float($0)) / maximum })
  }

  /// The image read as gray, as an `[H, W]` tensor in [0, 1] — how a mask file is read (white = edit).
  ///
  /// Matches PIL's `convert("L")` for 8-bit images bit for bit: `L = (19595 R + 38470 G + 7471 B +
  /// 32768) >> 16`, then `L / 255`. 16-bit images use the same weights in floating point, divided by 65535.
  /// Gray files (R = G = B) give their gray value exactly. Alpha is ignored.
  public func luminanceTensor() -> Tensor {
    let plane = width * height
    return Tensor(shape: [height, width]) { out in
      samples.withUnsafeBufferPointer { input in
        if depth == .eight {
          for i in 0..<plane {
            let r = UInt32(input[3 * i])
            let g = UInt32(input[3 * i + 1])
            let b = UInt32(input[3 * i + 2])
            let luminance = (19595 * r + 38470 * g + 7471 * b + 32768) >> 16
            out[i] = Float(luminance) / 255
          }
        } else {
          for i in 0..<plane {
            let r = Double(input[3 * i])
            let g = Double(input[3 * i + 1])
            let b = Double(input[3 * i + 2])
            out[i] = Float((0.299 * r + 0.587 * g + 0.114 * b) / 65535)
          }
        }
      }
    }
  }
}
