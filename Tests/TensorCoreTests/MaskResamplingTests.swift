import TensorCore
import Testing
import _TestSupport

@Suite("Mask resampling vs PIL and PyTorch")
struct MaskResamplingTests {
  @Test("nearest resize follows PIL's Image.resize(NEAREST) for up and down, non-integer ratios")
  func resizeMatchesPIL() throws {
    let cases = try KernelFixture.load("resize")
    #expect(cases.count == 16)
    for (name, fixture) in cases {
      let result = resizedNearest(
        try #require(fixture.input("x")), height: fixture.int("height"), width: fixture.int("width"))
      #expect(result == fixture.expectedTensor, "\(name): \(TensorComparison(result, fixture.expectedTensor))")
    }
  }

  @Test("max-pool downsample equals torch max_pool2d(kernel = stride = factor)")
  func maxPoolMatchesTorch() throws {
    for (name, fixture) in try KernelFixture.load("maxpool") {
      let result = maxPooled(try #require(fixture.input("x")), factor: fixture.int("factor"))
      #expect(result == fixture.expectedTensor, "\(name): \(TensorComparison(result, fixture.expectedTensor))")
    }
  }

  @Test("binary dilation equals torch max_pool2d(k, stride 1, padding k/2) on a binary mask")
  func dilationMatchesTorch() throws {
    let cases = try KernelFixture.load("dilation")
    #expect(cases.count == 5)
    for (name, fixture) in cases {
      let result = dilated(try #require(fixture.input("x")), kernelSize: fixture.int("kernelSize"))
      #expect(result == fixture.expectedTensor, "\(name): \(TensorComparison(result, fixture.expectedTensor))")
    }
  }
}
