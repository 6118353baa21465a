import BlendedLatent
import Foundation
import Testing

/// The "Image files from Swift" snippet of Documentation/CLI.md, compiled and run here so it cannot drift.
@Suite("Documentation example: image files from Swift")
struct ImageUsageExampleTests {
  @Test("read, crop to mask, composite, write")
  func example() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "bld-example-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let photoURL = ImageFixtures.url("rgb8.png")
    let maskURL = ImageFixtures.url("gray8.png")
    let outputURL = folder.appendingPathComponent("out.png")

    // snippet begin
    let photo = try RGBImage(contentsOf: photoURL)  // PNG or JPEG
    let pixels = photo.tensor()  // [3, H, W] in [0, 1]
    let mask = try RGBImage(contentsOf: maskURL).luminanceTensor()  // [H, W], white = 1
    let geometry = try EditGeometry.cropToMask(mask, padding: 2, nativeResolution: 8, sizeMultiple: 8)!
    let working = geometry.workingImage(from: pixels)  // [3, h, w] at the model's size
    // … edit `working` …
    let result = geometry.composite(
      edited: working, into: pixels, mask: mask, policy: .mask(featherRadius: 0))
    try RGBImage(tensor: result).pngData().write(to: outputURL)  // round(255·v), clamped
    // snippet end

    _ = photo
    let written = try RGBImage(contentsOf: outputURL)
    #expect(written.width == 7 && written.height == 5)
  }
}
