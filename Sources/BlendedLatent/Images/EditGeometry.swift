import TensorCore

/// Where an edit happens in the original image and at what size the model sees it.
///
/// The model runs on a *working image*: ``region`` of the original, resized to
/// ``workingWidth`` × ``workingHeight``. The result is resized back and composited into the full-resolution
/// original inside ``region`` only, so pixels outside the region are never touched.
///
/// Size policy (``workingSize(width:height:nativeResolution:sizeMultiple:)``): the working size keeps the
/// region's aspect ratio, its longer side is the model's native resolution, and both sides are rounded to
/// the nearest multiple of `sizeMultiple` (at least one multiple). An image that is already the native
/// size is used as is; any other size is resized (Lanczos-3, antialiased) on the way in and on the way out.
///
/// Two ways to choose the region:
/// - ``wholeImage(width:height:nativeResolution:sizeMultiple:)``: the whole picture (default).
/// - ``cropToMask(_:padding:nativeResolution:sizeMultiple:)``: the mask's bounding box plus padding, grown
///   to a square of at least the native resolution where the image allows, kept inside the image. How
///   large photos are edited: only the neighbourhood of the mask is resized, so it keeps its detail.
public struct EditGeometry: Sendable, Equatable {
  /// The original image's width.
  public let imageWidth: Int
  /// The original image's height.
  public let imageHeight: Int
  /// The part of the original that is edited (inside the image, non-empty).
  public let region: PixelRegion
  /// The width the model works at (a multiple of the size multiple).
  public let workingWidth: Int
  /// The height the model works at (a multiple of the size multiple).
  public let workingHeight: Int

  /// Creates a geometry from its parts.
  /// - Precondition: `region` is non-empty and inside the image; working sizes are positive.
  public init(
    imageWidth: Int, imageHeight: Int, region: PixelRegion, workingWidth: Int, workingHeight: Int
  ) {
    precondition(
      imageWidth > 0 && imageHeight > 0 && workingWidth > 0 && workingHeight > 0,
      "EditGeometry: sizes must be positive")
    precondition(
      !region.isEmpty
        && PixelRegion(x: 0, y: 0, width: imageWidth, height: imageHeight).contains(region),
      "EditGeometry: region \(region) outside \(imageWidth)×\(imageHeight)")
    self.imageWidth = imageWidth
    self.imageHeight = imageHeight
    self.region = region
    self.workingWidth = workingWidth
    self.workingHeight = workingHeight
  }

  /// Whether the model works on the original pixels unchanged (whole image, same size).
  public var isIdentity: Bool {
    region == PixelRegion(x: 0, y: 0, width: imageWidth, height: imageHeight)
      && workingWidth == imageWidth && workingHeight == imageHeight
  }

  /// The working size for a `width × height` region: aspect kept, longer side = `nativeResolution`, each
  /// side rounded to the nearest multiple of `sizeMultiple` (never below one multiple).
  /// - Throws: ``EditGeometryError/invalidArgument(name:value:reason:)`` unless every argument lies in
  ///   1…``maximumSide``.
  public static func workingSize(width: Int, height: Int, nativeResolution: Int, sizeMultiple: Int)
    throws(EditGeometryError) -> (width: Int, height: Int)
  {
    for (name, value) in [
      ("width", width), ("height", height), ("nativeResolution", nativeResolution), ("sizeMultiple", sizeMultiple),
    ] where !(1...maximumSide).contains(value) {
      throw .invalidArgument(name: name, value: value, reason: "must lie in 1…\(maximumSide)")
    }
    let scale = Double(nativeResolution) / Double(max(width, height))
    func rounded(_ extent: Int) -> Int {
      let multiples = (Double(extent) * scale / Double(sizeMultiple)).rounded(
        .toNearestOrAwayFromZero)
      return max(1, Int(multiples)) * sizeMultiple
    }
    return (rounded(width), rounded(height))
  }

  /// The largest image side, native resolution or size multiple the geometry accepts: 1 048 576 pixels (far
  /// beyond any image the decoders accept, and small enough that no size computation overflows).
  public static let maximumSide = 1 << 20

  /// The whole image, resized to the working size.
  /// - Parameters:
  ///   - width: the image width.
  ///   - height: the image height.
  ///   - nativeResolution: the model's native resolution (512 for SD 1.5 and 2.1-base).
  ///   - sizeMultiple: working sides are multiples of this (VAE factor × UNet downsampling, e.g. 64).
  /// - Throws: ``EditGeometryError`` unless every argument lies in 1…``maximumSide``.
  public static func wholeImage(width: Int, height: Int, nativeResolution: Int, sizeMultiple: Int)
    throws(EditGeometryError) -> EditGeometry
  {
    let size = try workingSize(
      width: width, height: height, nativeResolution: nativeResolution, sizeMultiple: sizeMultiple)
    return EditGeometry(
      imageWidth: width, imageHeight: height,
      region: PixelRegion(x: 0, y: 0, width: width, height: height),
      workingWidth: size.width, workingHeight: size.height)
  }

  /// The mask's bounding box plus `padding` pixels on every side, made square and at least
  /// `nativeResolution` pixels wide where the image allows, centred on the box, shifted (never shrunk)
  /// to lie inside the image, and clipped to the image where it is larger. The box is always inside the
  /// result. Returns `nil` when no mask element is above 0.5.
  /// - Parameters:
  ///   - mask: `[H, W]` in [0, 1] (the original image's size).
  ///   - padding: context pixels added around the box (≥ 0).
  ///   - nativeResolution: the model's native resolution.
  ///   - sizeMultiple: working sides are multiples of this.
  /// - Throws: ``EditGeometryError`` for a mask that is not `[H, W]`, a negative padding, or a resolution or
  ///   multiple outside 1…``maximumSide``. A padding larger than the image is the same as the image's size.
  public static func cropToMask(
    _ mask: Tensor, padding: Int, nativeResolution: Int, sizeMultiple: Int
  )
    throws(EditGeometryError) -> EditGeometry?
  {
    guard mask.rank == 2 else { throw .invalidMaskShape(mask.shape) }
    guard padding >= 0 else { throw .invalidArgument(name: "padding", value: padding, reason: "must be ≥ 0") }
    for (name, value) in [("nativeResolution", nativeResolution), ("sizeMultiple", sizeMultiple)]
    where !(1...maximumSide).contains(value) {
      throw .invalidArgument(name: name, value: value, reason: "must lie in 1…\(maximumSide)")
    }
    guard let box = PixelRegion.boundingBox(ofMask: mask) else { return nil }
    let (imageHeight, imageWidth) = (mask.shape[0], mask.shape[1])
    // The region is clipped to the image below, so padding beyond the image's size changes nothing (and
    // clamping it keeps `2 × padding` from overflowing).
    let clampedPadding = min(padding, max(imageWidth, imageHeight))
    let side = max(box.width + 2 * clampedPadding, box.height + 2 * clampedPadding, nativeResolution)
    func place(boxStart: Int, boxExtent: Int, extent: Int, limit: Int) -> Int {
      // Centre `extent` on the box, then shift it inside 0..<limit.
      let centred = boxStart + Int((Double(boxExtent - extent) / 2).rounded(.down))
      return min(max(0, centred), limit - extent)
    }
    let width = min(side, imageWidth)
    let height = min(side, imageHeight)
    let region = PixelRegion(
      x: place(boxStart: box.x, boxExtent: box.width, extent: width, limit: imageWidth),
      y: place(boxStart: box.y, boxExtent: box.height, extent: height, limit: imageHeight),
      width: width, height: height)
    let size = try workingSize(
      width: width, height: height, nativeResolution: nativeResolution, sizeMultiple: sizeMultiple)
    return EditGeometry(
      imageWidth: imageWidth, imageHeight: imageHeight, region: region,
      workingWidth: size.width, workingHeight: size.height)
  }

  /// The same region worked on at its own size (no resizing): the `--working-size original` policy.
  public var atOriginalSize: EditGeometry {
    EditGeometry(
      imageWidth: imageWidth, imageHeight: imageHeight, region: region, workingWidth: region.width,
      workingHeight: region.height)
  }

  /// The working image: ``region`` of `image` resized (Lanczos-3, antialiased, reading the pixels around
  /// the region so its edges have no seam) to the working size and clamped to [0, 1].
  /// - Parameter image: `[C, imageHeight, imageWidth]` in [0, 1].
  /// - Returns: `[C, workingHeight, workingWidth]`.
  public func workingImage(from image: Tensor) -> Tensor {
    checkImage(image)
    if isIdentity { return image }
    if workingWidth == region.width && workingHeight == region.height { return cropped(image) }
    return resampled(
      image, height: workingHeight, width: workingWidth, filter: .lanczos3, sourceRegion: region
    )
    .clamped(to: 0...1)
  }

  /// The working mask: ``region`` of `mask` resized by nearest neighbour (PIL's rule, as the method
  /// resizes masks), so it stays binary when the input is binary.
  /// - Parameter mask: `[imageHeight, imageWidth]`.
  /// - Returns: `[workingHeight, workingWidth]`.
  public func workingMask(from mask: Tensor) -> Tensor {
    precondition(
      mask.shape == [imageHeight, imageWidth],
      "workingMask: expected [\(imageHeight), \(imageWidth)], got \(mask.shape)")
    if isIdentity { return mask }
    let patch = cropped(mask)
    if workingWidth == region.width && workingHeight == region.height { return patch }
    return resizedNearest(patch, height: workingHeight, width: workingWidth)
  }

  /// Puts an edited working image back into the full-resolution original.
  ///
  /// The edit is resized to the region's size (Lanczos-3) and clamped to [0, 1]. Outside ``region`` the
  /// original is kept exactly. Inside, `policy` decides: ``PastePolicy/region`` replaces the whole region;
  /// ``PastePolicy/mask(featherRadius:)`` replaces only masked pixels (mask > 0.5), with an optional inward
  /// feather, so every pixel outside the mask stays bit-identical to the original.
  /// - Parameters:
  ///   - edited: `[C, workingHeight, workingWidth]` in [0, 1].
  ///   - original: `[C, imageHeight, imageWidth]` in [0, 1].
  ///   - mask: `[imageHeight, imageWidth]` in [0, 1] (only read by the mask policy).
  ///   - policy: what to replace inside the region.
  /// - Returns: `[C, imageHeight, imageWidth]`.
  public func composite(edited: Tensor, into original: Tensor, mask: Tensor, policy: PastePolicy)
    -> Tensor
  {
    checkImage(original)
    let channels = original.shape[0]
    precondition(
      edited.shape == [channels, workingHeight, workingWidth],
      "composite: edited must be [\(channels), \(workingHeight), \(workingWidth)], got \(edited.shape)"
    )
    precondition(
      mask.shape == [imageHeight, imageWidth],
      "composite: mask must be [\(imageHeight), \(imageWidth)], got \(mask.shape)")
    let patch =
      (edited.shape[1] == region.height && edited.shape[2] == region.width)
      ? edited.clamped(to: 0...1)
      : resampled(edited, height: region.height, width: region.width, filter: .lanczos3).clamped(
        to: 0...1)
    let weights: Tensor? =
      switch policy {
      case .region: nil
      case .mask(let radius): featheredMask(mask, radius: radius)
      }
    var output = original
    let plane = imageHeight * imageWidth
    output.withUnsafeMutableBufferPointer { out in
      patch.withUnsafeBufferPointer { patchValues in
        for c in 0..<channels {
          for row in 0..<region.height {
            for column in 0..<region.width {
              let pixel = (region.y + row) * imageWidth + region.x + column
              let value = patchValues[(c * region.height + row) * region.width + column]
              if let weights {
                let w = weights.scalars[pixel]
                if w >= 1 {
                  out[c * plane + pixel] = value
                } else if w > 0 {
                  out[c * plane + pixel] = w * value + (1 - w) * out[c * plane + pixel]
                }
              } else {
                out[c * plane + pixel] = value
              }
            }
          }
        }
      }
    }
    return output
  }

  /// ``region`` of `[C, H, W]` or `[H, W]`, copied without resampling.
  private func cropped(_ x: Tensor) -> Tensor {
    let planes = x.count / (imageHeight * imageWidth)
    let shape = Array(x.shape.dropLast(2)) + [region.height, region.width]
    return Tensor(shape: shape) { out in
      x.withUnsafeBufferPointer { values in
        for p in 0..<planes {
          for row in 0..<region.height {
            let source = (p * imageHeight + region.y + row) * imageWidth + region.x
            let target = (p * region.height + row) * region.width
            for column in 0..<region.width { out[target + column] = values[source + column] }
          }
        }
      }
    }
  }

  private func checkImage(_ image: Tensor) {
    precondition(
      image.rank == 3 && image.shape[1] == imageHeight && image.shape[2] == imageWidth,
      "EditGeometry: expected [C, \(imageHeight), \(imageWidth)], got \(image.shape)")
  }
}

/// Which pixels of the edit region ``EditGeometry/composite(edited:into:mask:policy:)`` replaces.
public enum PastePolicy: Sendable, Equatable {
  /// Every pixel of the region (background as the model produced it).
  case region
  /// Only masked pixels (mask > 0.5); pixels within `featherRadius` of the mask's edge blend linearly
  /// from the original to the edit. Pixels outside the mask are never changed.
  case mask(featherRadius: Int)
}
