import Foundation
import Testing
import TensorCore
import _TestSupport

/// Runs the vectorised kernels at every instruction-set level this CPU has (portable C, AVX2, AVX-512).
@Suite("Every vector-extension level", .serialized)
struct VectorExtensionTests {
  private func atEveryLevel(_ body: (VectorExtension) throws -> Void) rethrows {
    defer { ComputeOptions.setVectorExtensionLimit(.avx512) }
    for level in VectorExtension.allCases where level <= ComputeOptions.supportedVectorExtension {
      ComputeOptions.setVectorExtensionLimit(level)
      try body(level)
    }
  }

  @Test("activations and GEGLU match PyTorch fixtures and a dense double-precision reference")
  func activations() throws {
    let fixtures = try KernelFixture.load("activations")
    let dense = Tensor(shape: [20_001], scalars: (0...20_000).map { Float(-10 + Double($0) * 0.001) })
    let references: [Activation: (Double) -> Double] = [
      .silu: { $0 / (1 + Foundation.exp(-$0)) },
      .gelu: { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) },
      .geluTanh: { 0.5 * $0 * (1 + Foundation.tanh(0.7978845608028654 * ($0 + 0.044715 * $0 * $0 * $0))) },
      .quickGELU: { $0 / (1 + Foundation.exp(-1.702 * $0)) },
    ]
    try atEveryLevel { level in
      for (name, fixture) in fixtures {
        let x = try #require(fixture.input("x"))
        let result = name == "geglu" ? geglu(x) : activated(x, try #require(Activation(rawValue: name)))
        for (actual, expected) in zip(result.scalars, fixture.expectedTensor.scalars) {
          #expect(abs(actual - expected) <= 2e-6 * max(1, abs(expected)), "\(level) \(name): \(actual) vs \(expected)")
        }
      }
      for (activation, reference) in references {
        let result = activated(dense, activation)
        var worst = 0.0
        for (x, actual) in zip(dense.scalars, result.scalars) {
          let expected = reference(Double(x))
          worst = max(worst, abs(Double(actual) - expected) / max(1, abs(expected)))
        }
        #expect(worst <= 1e-6, "\(level) \(activation): worst error \(worst)")
      }
    }
  }

  @Test("group norm with fused SiLU and softmax match PyTorch fixtures")
  func normalizationAndSoftmax() throws {
    let groupNorms = try KernelFixture.load("groupnorm")
    let softmaxes = try KernelFixture.load("softmax")
    try atEveryLevel { level in
      #expect(ComputeOptions.vectorExtension == level)
      for (name, fixture) in groupNorms {
        let result = groupNorm(
          try #require(fixture.input("x")), groupCount: fixture.int("groups"), weight: fixture.input("weight"),
          bias: fixture.input("bias"), epsilon: Float(fixture.double("epsilon")), fusedSiLU: fixture.bool("fusedSiLU"))
        let comparison = TensorComparison(result, fixture.expectedTensor)
        #expect(comparison.isClose(relative: 1e-5), "\(level) \(name): \(comparison)")
      }
      for (name, fixture) in softmaxes {
        let comparison = TensorComparison(softmax(try #require(fixture.input("x"))), fixture.expectedTensor)
        #expect(comparison.isClose(relative: 1e-6), "\(level) softmax \(name): \(comparison)")
      }
    }
  }
}
