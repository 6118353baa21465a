import BlendedLatent
import Foundation
import TensorCore
import Testing

@Suite("Edit geometry: working size, crop to mask, paste back")
struct ImageGeometryTests {
  /// An `[H, W]` mask selecting `region`.
  static func mask(width: Int, height: Int, selecting region: PixelRegion) -> Tensor {
    var mask = Tensor(shape: [height, width])
    for y in region.y..<region.maxY { for x in region.x..<region.maxX { mask[y, x] = 1 } }
    return mask
  }

  static func image(width: Int, height: Int, seed: UInt64 = 1) -> Tensor {
    var state = seed
    return Tensor(shape: [3, height, width]) { out in
      for i in out.indices {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        out[i] = Float(state >> 40) / Float(1 << 24)
      }
    }
  }

  @Test("bounding box of a mask; empty mask → nil")
  func boundingBox() {
    let mask = Self.mask(
      width: 20, height: 10, selecting: PixelRegion(x: 3, y: 2, width: 5, height: 4))
    #expect(PixelRegion.boundingBox(ofMask: mask) == PixelRegion(x: 3, y: 2, width: 5, height: 4))
    // 0.5 is not above the threshold.
    #expect(PixelRegion.boundingBox(ofMask: Tensor(shape: [4, 4], repeating: 0.5)) == nil)
    var single = Tensor(shape: [4, 6])
    single[3, 5] = 0.6
    #expect(PixelRegion.boundingBox(ofMask: single) == PixelRegion(x: 5, y: 3, width: 1, height: 1))
  }

  @Test("working size: longer side native, multiples kept, aspect kept")
  func workingSize() throws {
    #expect(
      try EditGeometry.workingSize(width: 512, height: 512, nativeResolution: 512, sizeMultiple: 64)
        == (512, 512))
    #expect(
      try EditGeometry.workingSize(width: 256, height: 256, nativeResolution: 512, sizeMultiple: 64)
        == (512, 512))
    #expect(
      try EditGeometry.workingSize(width: 4000, height: 3000, nativeResolution: 512, sizeMultiple: 64)
        == (512, 384))
    #expect(
      try EditGeometry.workingSize(width: 3000, height: 4000, nativeResolution: 512, sizeMultiple: 8)
        == (384, 512))
    #expect(
      try EditGeometry.workingSize(width: 1000, height: 10, nativeResolution: 512, sizeMultiple: 64)
        == (512, 64))
    #expect(
      try EditGeometry.workingSize(width: 777, height: 555, nativeResolution: 64, sizeMultiple: 8) == (
        64, 48
      ))
  }

  @Test("whole image at native size is the identity")
  func wholeImageIdentity() throws {
    let geometry = try EditGeometry.wholeImage(
      width: 64, height: 64, nativeResolution: 64, sizeMultiple: 8)
    #expect(geometry.isIdentity)
    let image = Self.image(width: 64, height: 64)
    #expect(geometry.workingImage(from: image) == image)
    let mask = Self.mask(
      width: 64, height: 64, selecting: PixelRegion(x: 1, y: 1, width: 5, height: 5))
    #expect(geometry.workingMask(from: mask) == mask)
  }

  @Test(
    "crop to mask: square, at least native, contains the padded box, inside the image",
    arguments: [
      (PixelRegion(x: 1500, y: 900, width: 100, height: 60), 32),
      (PixelRegion(x: 0, y: 0, width: 40, height: 40), 16),  // corner: shifted inside
      (PixelRegion(x: 1960, y: 1450, width: 40, height: 50), 0),  // opposite corner
      (PixelRegion(x: 100, y: 300, width: 1500, height: 200), 64),  // wide box: larger than native
    ])
  func cropToMask(box: PixelRegion, padding: Int) throws {
    let (width, height) = (2000, 1500)
    let mask = Self.mask(width: width, height: height, selecting: box)
    let geometry = try #require(
      try EditGeometry.cropToMask(mask, padding: padding, nativeResolution: 512, sizeMultiple: 64))
    let region = geometry.region
    #expect(PixelRegion(x: 0, y: 0, width: width, height: height).contains(region))
    #expect(region.contains(box))
    let side = max(512, box.width + 2 * padding, box.height + 2 * padding)
    #expect(region.width == min(side, width) && region.height == min(side, height))
    let expected = try EditGeometry.workingSize(
      width: region.width, height: region.height, nativeResolution: 512, sizeMultiple: 64)
    #expect(geometry.workingWidth == expected.width && geometry.workingHeight == expected.height)
    #expect(max(geometry.workingWidth, geometry.workingHeight) == 512)
    // Padding is kept where the image allows: the box's distance to the crop edge is ≥ padding or the crop touches the image edge.
    #expect(box.x - region.x >= padding || region.x == 0 || region.maxX == width)
    #expect(region.maxY - box.maxY >= padding || region.maxY == height || region.y == 0)
  }

  @Test("crop to mask: a box bigger than the image's short side gives a clipped, non-square region")
  func cropClippedToImage() throws {
    let mask = Self.mask(
      width: 900, height: 300, selecting: PixelRegion(x: 100, y: 50, width: 400, height: 200))
    let geometry = try #require(
      try EditGeometry.cropToMask(mask, padding: 50, nativeResolution: 512, sizeMultiple: 64))
    #expect(geometry.region.height == 300 && geometry.region.y == 0)
    #expect(geometry.region.width == 512)
    #expect(geometry.region.contains(PixelRegion(x: 100, y: 50, width: 400, height: 200)))
    #expect(geometry.workingWidth == 512 && geometry.workingHeight == 320)
  }

  @Test("crop to mask of an empty mask is nil")
  func emptyMask() throws {
    #expect(
      try EditGeometry.cropToMask(
        Tensor(shape: [10, 10]), padding: 4, nativeResolution: 8, sizeMultiple: 8) == nil)
  }

  @Test("working image and mask have the working size; the mask stays binary")
  func workingTensors() throws {
    let mask = Self.mask(
      width: 300, height: 200, selecting: PixelRegion(x: 120, y: 80, width: 30, height: 20))
    let geometry = try #require(
      try EditGeometry.cropToMask(mask, padding: 10, nativeResolution: 64, sizeMultiple: 8))
    let image = Self.image(width: 300, height: 200)
    let working = geometry.workingImage(from: image)
    #expect(working.shape == [3, geometry.workingHeight, geometry.workingWidth])
    #expect(working.scalars.allSatisfy { (0...1).contains($0) })
    let workingMask = geometry.workingMask(from: mask)
    #expect(workingMask.shape == [geometry.workingHeight, geometry.workingWidth])
    #expect(workingMask.scalars.allSatisfy { $0 == 0 || $0 == 1 })
    #expect(workingMask.scalars.contains(1))
  }

  @Test(
    "paste with the mask policy keeps every pixel outside the mask bit-identical",
    arguments: [0, 3])
  func maskPasteKeepsOutside(feather: Int) throws {
    let box = PixelRegion(x: 120, y: 80, width: 30, height: 20)
    let mask = Self.mask(width: 300, height: 200, selecting: box)
    let geometry = try #require(
      try EditGeometry.cropToMask(mask, padding: 10, nativeResolution: 64, sizeMultiple: 8))
    let original = Self.image(width: 300, height: 200)
    let edited = Tensor(shape: [3, geometry.workingHeight, geometry.workingWidth], repeating: 0.25)
    let output = geometry.composite(
      edited: edited, into: original, mask: mask, policy: .mask(featherRadius: feather))
    #expect(output.shape == original.shape)
    var changedInside = 0
    for c in 0..<3 {
      for y in 0..<200 {
        for x in 0..<300 {
          if mask[y, x] > 0.5 {
            if output[c, y, x] != original[c, y, x] { changedInside += 1 }
            // Deep inside the mask the edit is pasted unblended.
            if x >= box.x + feather + 2 && x < box.maxX - feather - 2 && y >= box.y + feather + 2
              && y < box.maxY - feather - 2
            {
              #expect(abs(output[c, y, x] - 0.25) < 1e-6)
            }
          } else {
            #expect(output[c, y, x] == original[c, y, x])
          }
        }
      }
    }
    #expect(changedInside > 0)
  }

  @Test("at original size: crop without resampling, paste back exactly")
  func originalSize() throws {
    let mask = Self.mask(
      width: 300, height: 200, selecting: PixelRegion(x: 120, y: 80, width: 30, height: 20))
    let geometry = try #require(
      try EditGeometry.cropToMask(mask, padding: 10, nativeResolution: 64, sizeMultiple: 8)
    ).atOriginalSize
    #expect(
      geometry.workingWidth == geometry.region.width
        && geometry.workingHeight == geometry.region.height)
    let image = Self.image(width: 300, height: 200)
    let working = geometry.workingImage(from: image)
    #expect(working[1, 0, 0] == image[1, geometry.region.y, geometry.region.x])
    #expect(geometry.workingMask(from: mask).scalars.filter { $0 == 1 }.count == 600)
    let other = Self.image(width: 300, height: 200, seed: 5)
    #expect(
      geometry.composite(edited: working, into: other, mask: mask, policy: .region)[
        2, geometry.region.maxY - 1, geometry.region.maxX - 1]
        == image[2, geometry.region.maxY - 1, geometry.region.maxX - 1])
  }

  @Test("paste with the region policy changes only the crop region")
  func regionPaste() throws {
    let mask = Self.mask(
      width: 300, height: 200, selecting: PixelRegion(x: 120, y: 80, width: 30, height: 20))
    let geometry = try #require(
      try EditGeometry.cropToMask(mask, padding: 10, nativeResolution: 64, sizeMultiple: 8))
    let original = Self.image(width: 300, height: 200)
    let edited = Tensor(shape: [3, geometry.workingHeight, geometry.workingWidth], repeating: 0.75)
    let output = geometry.composite(edited: edited, into: original, mask: mask, policy: .region)
    let region = geometry.region
    for c in 0..<3 {
      for y in 0..<200 {
        for x in 0..<300 {
          let inside = x >= region.x && x < region.maxX && y >= region.y && y < region.maxY
          if inside {
            #expect(abs(output[c, y, x] - 0.75) < 1e-5)
          } else {
            #expect(output[c, y, x] == original[c, y, x])
          }
        }
      }
    }
  }

  @Test(
    "identity geometry: region paste returns the edit, crop → resize → paste of the source is close to the source"
  )
  func roundTrip() throws {
    let geometry = try EditGeometry.wholeImage(
      width: 40, height: 40, nativeResolution: 40, sizeMultiple: 8)
    let image = Self.image(width: 40, height: 40)
    let mask = Tensor(shape: [40, 40])
    #expect(
      geometry.composite(
        edited: image, into: Self.image(width: 40, height: 40, seed: 9), mask: mask, policy: .region
      ) == image)
    // A smooth image survives downscale + upscale closely.
    var smooth = Tensor(shape: [3, 120, 160])
    for c in 0..<3 {
      for y in 0..<120 {
        for x in 0..<160 {
          let phase = Double(x + 2 * y + 40 * c) / 25
          smooth[c, y, x] = 0.5 + 0.4 * Float(sin(phase))
        }
      }
    }
    let resizing = try EditGeometry.wholeImage(
      width: 160, height: 120, nativeResolution: 64, sizeMultiple: 8)
    #expect(resizing.workingWidth == 64 && resizing.workingHeight == 48)
    let back = resizing.composite(
      edited: resizing.workingImage(from: smooth), into: smooth, mask: Tensor(shape: [120, 160]),
      policy: .region)
    try #require(back.shape == smooth.shape)
    let worst = zip(back.scalars, smooth.scalars).map { abs($0 - $1) }.max() ?? 1
    let mean =
      zip(back.scalars, smooth.scalars).map { abs($0 - $1) }.reduce(0, +) / Float(smooth.count)
    #expect(worst < 0.03 && mean < 0.005, "max error \(worst), mean \(mean)")
  }

  @Test("feathered mask: binary at radius 0, ramps inward, zero outside")
  func feather() {
    let mask = Self.mask(
      width: 20, height: 20, selecting: PixelRegion(x: 5, y: 5, width: 10, height: 10))
    #expect(featheredMask(mask, radius: 0) == mask)
    let soft = featheredMask(mask, radius: 3)
    #expect(soft[5, 10] == 0.25)  // edge pixel: distance 1 of 4
    #expect(soft[6, 10] == 0.5)
    #expect(soft[8, 10] == 1)
    #expect(soft[4, 10] == 0 && soft[0, 0] == 0)
    // A mask touching the image border is not feathered along the border.
    let edge = Self.mask(
      width: 10, height: 10, selecting: PixelRegion(x: 0, y: 0, width: 10, height: 5))
    #expect(featheredMask(edge, radius: 2)[0, 5] == 1)
  }
}
