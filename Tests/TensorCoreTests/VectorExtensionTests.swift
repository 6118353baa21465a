import Foundation
import TensorCore
import Testing
import _TestSupport

/// Runs the vectorised kernels at every instruction-set level this CPU has (portable C, AVX2, AVX-512).
@Suite("Every vector-extension level")
struct VectorExtensionTests {
  private func atEveryLevel(_ body: (VectorExtension) throws -> Void) rethrows {
    for level in VectorExtension.allCases where level <= ComputeOptions.supportedVectorExtension {
      try ComputeOptions.withVectorExtensionLimit(level) { try body(level) }
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
        try #require(result.shape == fixture.expectedTensor.shape, "\(level) \(name)")
        for (actual, expected) in zip(result.scalars, fixture.expectedTensor.scalars) {
          #expect(abs(actual - expected) <= 2e-6 * max(1, abs(expected)), "\(level) \(name): \(actual) vs \(expected)")
        }
      }
      for (activation, reference) in references {
        let result = activated(dense, activation)
        try #require(result.shape == dense.shape)
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

  @Test("the fused group-norm + SiLU backward agrees at every level with the portable one", arguments: [false, true])
  func groupNormBackwardAtEveryLevel(frozen: Bool) {
    var random = KernelTestRandom(seed: frozen ? 21 : 22)
    // 37 × 29 = 1073 positions per channel: past one block of the float partial sums at every width (512 for AVX2,
    // 1024 for AVX-512), with a scalar tail.
    let shape = [2, 6, 37, 29]
    let count = shape.reduce(1, *)
    let x = Tensor(shape: shape, scalars: random.floats(count).map { $0 * 3 + 0.5 })
    let r = Tensor(shape: shape, scalars: random.floats(count))
    let gamma = Tensor(shape: [6], scalars: random.floats(6).map { $0 + 1.5 })
    let beta = Tensor(shape: [6], scalars: random.floats(6))
    let statistics = GroupNormStatistics(of: x, groupCount: 3, epsilon: 1e-6)
    func gradients() -> GroupNormGradients {
      groupNormBackward(
        outputGradient: r, input: x, statistics: statistics, weight: gamma, bias: beta, fusedSiLU: true,
        statisticsAreConstant: frozen)
    }
    let portable = ComputeOptions.withVectorExtensionLimit(.portable) { gradients() }
    atEveryLevel { level in
      let result = gradients()
      for (name, actual, expected) in [
        ("∂x", result.input, portable.input), ("∂γ", result.weight, portable.weight),
        ("∂β", result.bias, portable.bias),
      ] {
        let comparison = TensorComparison(actual, expected)
        #expect(comparison.isClose(relative: 1e-5), "\(level) \(name): \(comparison)")
      }
    }
  }

  @Test(
    "Winograd transforms (input, output, weights) at every level match im2col conv2d; layer norm matches a double reference"
  )
  func winogradAndLayerNorm() throws {
    var random = KernelTestRandom(seed: 17)
    // 13 × 17: partial edge tiles in both directions; 20 × 24 channels: a partial GEMM panel.
    let input = Tensor(shape: [2, 24, 13, 17], scalars: random.floats(2 * 24 * 13 * 17))
    let weight = Tensor(shape: [20, 24, 3, 3], scalars: random.floats(20 * 24 * 9))
    let bias = Tensor(shape: [20], scalars: random.floats(20))
    let direct = conv2d(input, weight: weight, bias: bias, stride: 1, padding: 1)
    let rows = Tensor(shape: [5, 333], scalars: random.floats(5 * 333).map { $0 * 4 + 7 })
    try atEveryLevel { level in
      for tile in WinogradTile.allCases {
        let winograd = conv2d3x3Winograd(input, weights: try WinogradWeights(weight: weight, tile: tile), bias: bias)
        let comparison = TensorComparison(winograd, direct)
        #expect(comparison.isClose(relative: 1e-4), "\(level) Winograd \(tile): \(comparison)")
      }
      let normalized = layerNorm(rows, weight: nil, bias: nil, epsilon: 1e-5)
      for row in 0..<5 {
        let values = rows.scalars[(row * 333)..<((row + 1) * 333)].map(Double.init)
        let mean = values.reduce(0, +) / 333
        let inverse = 1 / (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 333 + 1e-5).squareRoot()
        for (column, value) in values.enumerated() {
          let actual = Double(normalized.scalars[row * 333 + column])
          #expect(abs(actual - (value - mean) * inverse) <= 1e-5, "\(level) layer norm [\(row), \(column)]")
        }
      }
    }
  }
}
