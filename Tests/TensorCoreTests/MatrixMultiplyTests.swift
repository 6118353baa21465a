import TensorCore
import Testing
import _TestSupport

@Suite("Matrix multiply and linear vs PyTorch")
struct MatrixMultiplyTests {
  @Test("matmul, batched matmul and every transpose combination")
  func matmulMatchesTorch() throws {
    let cases = try KernelFixture.load("matmul")
    #expect(cases.count == 9)
    for (name, fixture) in cases {
      let result = matmul(
        try #require(fixture.input("a")), try #require(fixture.input("b")),
        transposeA: fixture.bool("transposeA"), transposeB: fixture.bool("transposeB"))
      let comparison = TensorComparison(result, fixture.expectedTensor)
      #expect(comparison.isClose(relative: 1e-6), "\(name): \(comparison)")
    }
  }

  @Test("linear with and without bias, rank 2 and 3 inputs")
  func linearMatchesTorch() throws {
    for (name, fixture) in try KernelFixture.load("linear") {
      let result = linear(
        try #require(fixture.input("x")), weight: try #require(fixture.input("weight")), bias: fixture.input("bias"))
      let comparison = TensorComparison(result, fixture.expectedTensor)
      #expect(comparison.isClose(relative: 1e-6), "\(name): \(comparison)")
    }
  }

  @Test("a large product equals a double-precision dot product")
  func largeProduct() {
    let a = NaiveKernels.uniform([67, 300], seed: 1)
    let b = NaiveKernels.uniform([300, 45], seed: 2)
    let result = matmul(a, b)
    var expected = [Float](repeating: 0, count: 67 * 45)
    for i in 0..<67 {
      for j in 0..<45 {
        var sum = 0.0
        for k in 0..<300 { sum += Double(a.scalars[i * 300 + k]) * Double(b.scalars[k * 45 + j]) }
        expected[i * 45 + j] = Float(sum)
      }
    }
    let comparison = TensorComparison(result, Tensor(shape: [67, 45], scalars: expected))
    #expect(comparison.isClose(relative: 1e-5), "\(comparison)")
  }
}
