import BlendedLatent
import Foundation
import TensorCore
import Testing
import _TestSupport

@Suite("resampled(_:height:width:filter:sourceRegion:) matches Pillow's float resize")
struct ImageResamplingTests {
  struct Fixture: Decodable {
    struct Case: Decodable {
      let filter: String
      let width: Int
      let height: Int
      let box: [Int]?
      let output: [Float]
    }
    let height: Int
    let width: Int
    let input: [Float]
    let cases: [Case]
  }

  static func fixture() throws -> Fixture {
    try JSONDecoder().decode(
      Fixture.self, from: Data(contentsOf: ImageFixtures.url("resample.json")))
  }

  @Test("every filter, up and down, with and without a source box")
  func matchesPillow() throws {
    let fixture = try Self.fixture()
    let input = Tensor(shape: [fixture.height, fixture.width], scalars: fixture.input)
    #expect(fixture.cases.count == 20)
    for testCase in fixture.cases {
      let filter = try #require(ResamplingFilter(rawValue: testCase.filter))
      let region = testCase.box.map {
        PixelRegion(x: $0[0], y: $0[1], width: $0[2] - $0[0], height: $0[3] - $0[1])
      }
      let output = resampled(
        input, height: testCase.height, width: testCase.width, filter: filter, sourceRegion: region)
      let expected = Tensor(shape: [testCase.height, testCase.width], scalars: testCase.output)
      let comparison = TensorComparison(output, expected)
      #expect(
        comparison.isClose(relative: 1e-5),
        "\(testCase.filter) → \(testCase.width)×\(testCase.height) box \(String(describing: testCase.box)): \(comparison)"
      )
    }
  }

  @Test("leading axes are resized plane by plane")
  func planes() throws {
    let fixture = try Self.fixture()
    let plane = Tensor(shape: [fixture.height, fixture.width], scalars: fixture.input)
    let stacked = Tensor.concatenated(
      [
        plane.reshaped([1, fixture.height, fixture.width]),
        (plane * 2).reshaped([1, fixture.height, fixture.width]),
      ], axis: 0)
    let output = resampled(stacked, height: 6, width: 8)
    let single = resampled(plane, height: 6, width: 8)
    #expect(output.shape == [2, 6, 8])
    #expect(Array(output.scalars[0..<48]) == single.scalars)
    let doubled = Array(output.scalars[48...])
    try #require(doubled.count == 48 && single.count == 48)
    for (a, b) in zip(doubled, single.scalars) { #expect(abs(a - 2 * b) < 1e-5) }
  }

  @Test("constant images stay constant (weights sum to one)")
  func constant() {
    let flat = Tensor(shape: [3, 11, 9], repeating: 0.375)
    for filter in ResamplingFilter.allCases {
      for (h, w) in [(4, 3), (23, 31), (11, 9)] {
        let output = resampled(flat, height: h, width: w, filter: filter)
        #expect(output.scalars.allSatisfy { abs($0 - 0.375) < 1e-6 }, "\(filter) \(h)×\(w)")
      }
    }
  }

  @Test("same size without a box returns the input unchanged")
  func identity() throws {
    let fixture = try Self.fixture()
    let plane = Tensor(shape: [fixture.height, fixture.width], scalars: fixture.input)
    #expect(resampled(plane, height: fixture.height, width: fixture.width) == plane)
  }
}
