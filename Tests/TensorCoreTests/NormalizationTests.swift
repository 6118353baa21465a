import TensorCore
import Testing
import _TestSupport

@Suite("Normalisation vs PyTorch")
struct NormalizationTests {
  @Test("group norm with and without affine and fused SiLU, rank 3 and 4, 1×1 spatial, large offset")
  func groupNormMatchesTorch() throws {
    let cases = try KernelFixture.load("groupnorm")
    #expect(cases.count == 6)
    for (name, fixture) in cases {
      let result = groupNorm(
        try #require(fixture.input("x")), groupCount: fixture.int("groups"), weight: fixture.input("weight"),
        bias: fixture.input("bias"), epsilon: Float(fixture.double("epsilon")), fusedSiLU: fixture.bool("fusedSiLU"))
      let comparison = TensorComparison(result, fixture.expectedTensor)
      #expect(comparison.isClose(relative: 1e-5), "\(name): \(comparison)")
    }
  }

  @Test("layer norm over the last axis")
  func layerNormMatchesTorch() throws {
    for (name, fixture) in try KernelFixture.load("layernorm") {
      let result = layerNorm(
        try #require(fixture.input("x")), weight: fixture.input("weight"), bias: fixture.input("bias"),
        epsilon: Float(fixture.double("epsilon")))
      let comparison = TensorComparison(result, fixture.expectedTensor)
      #expect(comparison.isClose(relative: 1e-5), "\(name): \(comparison)")
    }
  }
}

@Suite("Activations and softmax vs PyTorch")
struct ActivationTests {
  @Test("SiLU, GELU (erf), GELU (tanh), quick GELU, GEGLU")
  func activationsMatchTorch() throws {
    let cases = try KernelFixture.load("activations")
    #expect(cases.count == 5)
    for (name, fixture) in cases {
      let x = try #require(fixture.input("x"))
      let result: Tensor
      switch name {
      case "geglu": result = geglu(x)
      default: result = activated(x, try #require(Activation(rawValue: name), "unknown activation \(name)"))
      }
      let comparison = TensorComparison(result, fixture.expectedTensor)
      #expect(comparison.isClose(relative: 1e-6), "\(name): \(comparison)")
      // Element-wise check too: small values must be right, not only the largest ones.
      try #require(result.shape == fixture.expectedTensor.shape, "\(name)")
      for (actual, expected) in zip(result.scalars, fixture.expectedTensor.scalars) {
        #expect(abs(actual - expected) <= 2e-6 * max(1, abs(expected)), "\(name): \(actual) vs \(expected)")
      }
    }
    let x = Tensor(shape: [2, 2], scalars: [-1, 0, 1, 2])
    #expect(silu(x) == activated(x, .silu))
    #expect(gelu(x) == activated(x, .gelu))
  }

  @Test("softmax is stable for large positive and negative values")
  func softmaxMatchesTorch() throws {
    for (name, fixture) in try KernelFixture.load("softmax") {
      let result = softmax(try #require(fixture.input("x")))
      #expect(result.isFinite, "\(name) produced non-finite values")
      let comparison = TensorComparison(result, fixture.expectedTensor)
      #expect(comparison.isClose(relative: 1e-6), "\(name): \(comparison)")
    }
  }
}
