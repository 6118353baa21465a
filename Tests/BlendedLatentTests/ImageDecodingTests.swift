import BlendedLatent
import Foundation
import TensorCore
import Testing

@Suite("RGBImage decodes PNG and JPEG through libpng and libjpeg-turbo")
struct ImageDecodingTests {
  static let losslessFiles = [
    "rgb8.png", "rgba8.png", "gray8.png", "graya8.png", "rgb16.png", "rgba16.png", "gray16.png",
    "graya16.png",
    "rgb8-interlaced.png", "rgba16-interlaced.png", "gray1.png", "gray4-trns.png",
    "palette4-trns.png",
    "rgb8-trns.png",
  ]

  @Test("PNG samples are exact for every colour type and bit depth", arguments: losslessFiles)
  func pngSamplesAreExact(name: String) throws {
    let expected = try #require(try ImageFixtures.expected()[name])
    let image = try RGBImage(contentsOf: ImageFixtures.url(name))
    #expect(image.width == expected.width && image.height == expected.height)
    #expect(image.depth.rawValue == expected.depth)
    #expect(image.samples.map(Int.init) == expected.rgb)
    #expect(image.alpha?.map(Int.init) == expected.alpha)
  }

  @Test(
    "JPEG decodes like Pillow (within one level)",
    arguments: ["rgb.jpg", "progressive.jpg", "gray.jpg", "cmyk.jpg"])
  func jpegMatchesPillow(name: String) throws {
    let expected = try #require(try ImageFixtures.expected()[name])
    let image = try RGBImage(contentsOf: ImageFixtures.url(name))
    #expect(
      image.width == expected.width && image.height == expected.height && image.depth == .eight)
    #expect(image.alpha == nil)
    try #require(image.samples.count == expected.rgb.count)
    let worst = zip(image.samples, expected.rgb).map { abs(Int($0) - $1) }.max() ?? 0
    #expect(worst <= 1, "max difference \(worst) levels")
  }

  @Test("tensor() is [3, H, W] in [0, 1], planar")
  func tensorLayout() throws {
    let image = try RGBImage(contentsOf: ImageFixtures.url("rgb16.png"))
    let tensor = image.tensor()
    #expect(tensor.shape == [3, 5, 7])
    // pixel (x 2, y 3), green channel
    #expect(tensor[1, 3, 2] == Float(image.samples[3 * (3 * 7 + 2) + 1]) / 65535)
    #expect(tensor.scalars.allSatisfy { (0...1).contains($0) })
  }

  @Test("8-bit round trip: decode → tensor → quantise → PNG → decode is lossless")
  func eightBitRoundTrip() throws {
    let image = try RGBImage(contentsOf: ImageFixtures.url("rgba8.png"))
    let requantised = try RGBImage(tensor: image.tensor(), alpha: image.alphaTensor())
    #expect(requantised == image)
    let reread = try RGBImage(decoding: try requantised.pngData(), fileName: "memory")
    #expect(reread == image)
    let opaque = try RGBImage(tensor: image.tensor())
    let rereadOpaque = try RGBImage(decoding: try opaque.pngData(), fileName: "memory")
    #expect(rereadOpaque.alpha == nil && rereadOpaque.samples == image.samples)
  }

  @Test("16-bit images encode to 8-bit PNG with rounding")
  func sixteenBitEncode() throws {
    let image = try RGBImage(contentsOf: ImageFixtures.url("rgb16.png"))
    let reread = try RGBImage(decoding: try image.pngData(), fileName: "memory")
    #expect(reread.depth == .eight)
    let expected = image.samples.map { UInt16((Double($0) * 255 / 65535).rounded()) }
    #expect(reread.samples == expected)
  }

  @Test("quantisation is round(255 v) with clamping, NaN → 0")
  func quantisation() {
    #expect(RGBImage.eightBitSample(0) == 0)
    #expect(RGBImage.eightBitSample(1) == 255)
    #expect(RGBImage.eightBitSample(-0.3) == 0)
    #expect(RGBImage.eightBitSample(7) == 255)
    #expect(RGBImage.eightBitSample(.nan) == 0)
    #expect(RGBImage.eightBitSample(0.5) == 128)  // 127.5 rounds away from zero
    #expect(RGBImage.eightBitSample(0.498) == 127)
    #expect(RGBImage.eightBitSample(1.5 / 255) == 2)
    for level in 0...255 { #expect(RGBImage.eightBitSample(Float(level) / 255) == UInt8(level)) }
  }

  @Test("gray PNG encoding round-trips through the decoder")
  func grayEncoding() throws {
    let mask = Tensor(shape: [2, 3], scalars: [0, 0.25, 0.5, 0.75, 1, 2])
    let image = try RGBImage(decoding: try RGBImage.grayPNGData(mask), fileName: "mask")
    #expect(image.width == 3 && image.height == 2)
    #expect(
      image.samples == [
        0, 0, 0, 64, 64, 64, 128, 128, 128, 191, 191, 191, 255, 255, 255, 255, 255, 255,
      ])
  }

  @Test("luminance matches Pillow's convert(\"L\") exactly")
  func luminanceMatchesPillow() throws {
    let expected = try #require(try ImageFixtures.expected()["rgb8.png"]?.luminance)
    let gray = try RGBImage(contentsOf: ImageFixtures.url("rgb8.png")).luminanceTensor()
    #expect(gray.shape == [5, 7])
    #expect(gray.scalars.map { Int(($0 * 255).rounded()) } == expected)
  }

  @Test("a gray file reads back as its own gray value")
  func grayLuminanceIsIdentity() throws {
    let image = try RGBImage(contentsOf: ImageFixtures.url("gray16.png"))
    let expected = try #require(try ImageFixtures.expected()["gray16.png"])
    let gray = image.luminanceTensor()
    for (index, value) in gray.scalars.enumerated() {
      #expect(abs(value - Float(expected.rgb[3 * index]) / 65535) < 1e-6)
    }
  }

  @Test("--mask alpha convention: transparent = 1 (edit), opaque = 0")
  func transparencyMask() throws {
    let image = try RGBImage(contentsOf: ImageFixtures.url("palette4-trns.png"))
    let alpha = try #require(image.alphaTensor())
    let mask = try #require(image.transparencyTensor())
    try #require(alpha.shape == [image.height, image.width] && mask.shape == alpha.shape)
    for (a, m) in zip(alpha.scalars, mask.scalars) { #expect(abs(a + m - 1) < 1e-6) }
    #expect(mask.scalars.contains(1))  // palette entry 0 is fully transparent
    #expect(try RGBImage(contentsOf: ImageFixtures.url("rgb8.png")).transparencyTensor() == nil)
  }
}

@Suite("Unreadable, corrupt and unsupported image files give typed errors naming the file")
struct ImageFileErrorTests {
  static let broken: [(String, String)] = [
    ("truncated.png", "corrupt"), ("bad-crc.png", "corrupt"), ("truncated.jpg", "corrupt"),
    ("garbage.png", "unsupportedFormat"), ("empty.png", "corrupt"),
    ("picture.gif", "unsupportedFormat"),
    ("does-not-exist.png", "unreadable"),
  ]

  @Test("broken file → ImageFileError", arguments: broken)
  func brokenFile(name: String, kind: String) throws {
    let url = ImageFixtures.url(name)
    do {
      let image = try RGBImage(contentsOf: url)
      Issue.record("decoded \(name) as \(image.width)×\(image.height)")
    } catch let error as ImageFileError {
      #expect(error.file == url.path)
      #expect(error.description.contains(name))
      #expect(!error.description.contains("\n"))
      let actual: String =
        switch error {
        case .corrupt: "corrupt"
        case .unsupportedFormat: "unsupportedFormat"
        case .unreadable: "unreadable"
        default: "other"
        }
      #expect(actual == kind, "\(error)")
    }
  }

  @Test("a directory is unreadable, not a crash")
  func directory() {
    #expect(throws: ImageFileError.self) { try RGBImage(contentsOf: ImageFixtures.directory) }
  }

  @Test("every prefix of a PNG and a JPEG is rejected or decodes to the right size")
  func everyTruncation() throws {
    for name in ["rgba16-interlaced.png", "progressive.jpg"] {
      let data = try Data(contentsOf: ImageFixtures.url(name))
      for length in stride(from: 0, to: data.count, by: 7) {
        do {
          let image = try RGBImage(decoding: data.prefix(length), fileName: name)
          Issue.record(
            "\(name) cut to \(length) of \(data.count) bytes decoded as \(image.width)×\(image.height)"
          )
        } catch is ImageFileError {
        }
      }
    }
  }

  @Test("images above the pixel limit are refused before decoding")
  func pixelLimit() {
    #expect(
      throws: ImageFileError.tooLarge(
        file: ImageFixtures.url("rgb8.png").path, detail: "7×5 pixels is more than the limit of 34")
    ) {
      try RGBImage(contentsOf: ImageFixtures.url("rgb8.png"), maximumPixelCount: 34)
    }
    #expect(throws: ImageFileError.self) {
      try RGBImage(contentsOf: ImageFixtures.url("rgb.jpg"), maximumPixelCount: 100)
    }
  }

  @Test("format detection uses signatures, not names")
  func detection() throws {
    #expect(ImageFormat.detect(header: try Data(contentsOf: ImageFixtures.url("rgb.jpg"))) == .jpeg)
    #expect(ImageFormat.detect(header: try Data(contentsOf: ImageFixtures.url("rgb8.png"))) == .png)
    #expect(
      ImageFormat.detect(header: try Data(contentsOf: ImageFixtures.url("picture.gif"))) == .gif)
    #expect(ImageFormat.detect(header: [UInt8]()) == nil)
  }
}
