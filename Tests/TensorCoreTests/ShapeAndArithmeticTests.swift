import TensorCore
import Testing
import _TestSupport

@Suite("Shape ops and broadcasting vs PyTorch")
struct ShapeAndArithmeticTests {
  @Test("upsample, concat, permute, broadcasting add and mul")
  func shapeOpsMatchTorch() throws {
    let cases = try KernelFixture.load("shape")
    #expect(cases.count == 17)
    for (name, fixture) in cases {
      let result: Tensor
      if name.hasPrefix("upsample2x") {
        result = upsampleNearest2x(try #require(fixture.input("x")))
      } else if name.hasPrefix("concat") {
        result = Tensor.concatenated(
          [try #require(fixture.input("a")), try #require(fixture.input("b"))], axis: fixture.int("axis"))
      } else if name == "transpose-last-two" {
        result = try #require(fixture.input("x")).transposedLastTwo()
      } else if name.hasPrefix("permute") {
        result = try #require(fixture.input("x")).permuted(fixture.list("permutation"))
      } else if name.hasPrefix("add") {
        result = try #require(fixture.input("a")) + #require(fixture.input("b"))
      } else {
        result = try #require(fixture.input("a")) * #require(fixture.input("b"))
      }
      let comparison = TensorComparison(result, fixture.expectedTensor)
      #expect(comparison.isClose(relative: 1e-7), "\(name): \(comparison)")
    }
  }

  @Test("permute round trip, reshape, slice and chunk")
  func shapeRoundTrips() {
    let x = NaiveKernels.uniform([2, 3, 4, 5], seed: 9)
    #expect(x.permuted([2, 0, 3, 1]).permuted([1, 3, 0, 2]) == x)
    #expect(x.reshaped([6, -1]).shape == [6, 20])
    let parts = x.chunked(3, axis: 1)
    #expect(parts.count == 3 && parts[1].shape == [2, 1, 4, 5])
    #expect(Tensor.concatenated(parts, axis: 1) == x)
    #expect(x.sliced(axis: 3, 1..<3)[1, 2, 3, 0] == x[1, 2, 3, 1])
  }

  @Test("scalar arithmetic and in-place accumulation")
  func scalarArithmetic() {
    let x = NaiveKernels.uniform([3, 7], seed: 10)
    let y = NaiveKernels.uniform([3, 7], seed: 11)
    #expect((x * 2).scalars == x.scalars.map { $0 * 2 })
    #expect(x.linearCombination(0.5, 2, y).scalars == zip(x.scalars, y.scalars).map { 0.5 * $0 + 2 * $1 })
    var z = x
    z.add(y, scaledBy: -1)
    #expect(z == x - y)
    #expect(Tensor.broadcastShape([2, 1, 4], [3, 1]) == [2, 3, 4])
    #expect(Tensor.broadcastShape([2, 3], [4]) == nil)
  }
}
