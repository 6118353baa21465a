import TensorCore
import Testing
import _TestSupport

/// The training forms of group normalisation (statistics kept apart, frozen statistics, the fused group norm + SiLU
/// backward) and the Winograd gradients of `conv2dBackward`.
@Suite("Training kernels")
struct TrainingKernelTests {
  typealias Generator = GradientTests.Generator

  @Test func normalisingWithOwnStatisticsEqualsGroupNorm() {
    // groupNorm computes and applies the same statistics with the same kernels, one group at a time.
    var random = Generator(state: 21)
    let x = random.tensor([2, 8, 5, 7], scale: 3) + 10
    let (gamma, beta) = (random.tensor([8]) + 1, random.tensor([8]))
    let statistics = GroupNormStatistics(of: x, groupCount: 4, epsilon: 1e-6)
    for silu in [false, true] {
      let frozen = groupNorm(x, statistics: statistics, weight: gamma, bias: beta, fusedSiLU: silu)
      let plain = groupNorm(x, groupCount: 4, weight: gamma, bias: beta, epsilon: 1e-6, fusedSiLU: silu)
      #expect(frozen.scalars == plain.scalars)
    }
  }

  @Test(arguments: [false, true])
  func fusedGroupNormSiLUBackwardMatchesFiniteDifferences(frozen: Bool) {
    // With frozen statistics they are those of another tensor, held constant: the function is then affine + SiLU.
    var random = Generator(state: frozen ? 5 : 6)
    let x = random.tensor([2, 6, 3, 5], scale: 2)
    let (gamma, beta) = (random.tensor([6]) + 1.5, random.tensor([6]))
    let fixed = GroupNormStatistics(of: random.tensor(x.shape, scale: 3), groupCount: 3, epsilon: 1e-6)
    func statistics(_ x: Tensor) -> GroupNormStatistics {
      frozen ? fixed : GroupNormStatistics(of: x, groupCount: 3, epsilon: 1e-6)
    }
    let r = random.tensor(x.shape)
    let g = groupNormBackward(
      outputGradient: r, input: x, statistics: statistics(x), weight: gamma, bias: beta,
      fusedSiLU: true, statisticsAreConstant: frozen)
    let f = { (x: Tensor, w: Tensor, b: Tensor) in
      GradientTests.contracted(groupNorm(x, statistics: statistics(x), weight: w, bias: b, fusedSiLU: true), r)
    }
    func expectClose(_ analytic: Tensor, _ numeric: Tensor, _ name: String) {
      let comparison = TensorComparison(analytic, numeric)
      #expect(comparison.isClose(relative: 2e-3), "\(name): \(comparison)")
    }
    expectClose(g.input, GradientTests.numericGradient(of: x, epsilon: 1e-2) { f($0, gamma, beta) }, "∂x")
    expectClose(g.weight, GradientTests.numericGradient(of: gamma, epsilon: 1e-2) { f(x, $0, beta) }, "∂γ")
    expectClose(g.bias, GradientTests.numericGradient(of: beta, epsilon: 1e-2) { f(x, gamma, $0) }, "∂β")
  }

  @Test func fusedBackwardWithoutSiLUEqualsTheGroupNormBackward() {
    // A spatial size that is not a multiple of the vector width exercises the kernel's scalar tail.
    var random = Generator(state: 8)
    let x = random.tensor([1, 4, 9, 37])
    let (gamma, r) = (random.tensor([4]) + 1, random.tensor([1, 4, 9, 37]))
    let fused = groupNormBackward(
      outputGradient: r, input: x, statistics: GroupNormStatistics(of: x, groupCount: 2, epsilon: 1e-6),
      weight: gamma, bias: nil)
    let plain = groupNormBackward(outputGradient: r, input: x, groupCount: 2, weight: gamma, epsilon: 1e-6)
    #expect(fused.input == plain.input && fused.weight == plain.weight && fused.bias == plain.bias)
  }

  @Test(arguments: [false, true])
  func addedGradientJoinsTheGroupNormInputGradient(frozen: Bool) {
    // 9 × 37 positions leave a scalar tail; the fused backward adds it as it writes ∂x (pass 2, or a pass of its
    // own with frozen statistics), so the sum is the separate add's up to one rounding.
    var random = Generator(state: frozen ? 41 : 42)
    let x = random.tensor([2, 6, 9, 37])
    let (gamma, beta) = (random.tensor([6]) + 1, random.tensor([6]))
    let (r, added) = (random.tensor(x.shape), random.tensor(x.shape))
    let statistics = GroupNormStatistics(of: x, groupCount: 3, epsilon: 1e-6)
    func gradients(adding: Tensor?) -> GroupNormGradients {
      groupNormBackward(
        outputGradient: r, input: x, statistics: statistics, weight: gamma, bias: beta, fusedSiLU: true,
        statisticsAreConstant: frozen, addedGradient: adding)
    }
    let (plain, joined) = (gradients(adding: nil), gradients(adding: added))
    var expected = plain.input
    expected.add(added)
    let comparison = TensorComparison(joined.input, expected)
    #expect(comparison.isClose(relative: 1e-6), "\(comparison)")
    #expect(joined.weight == plain.weight && joined.bias == plain.bias)
  }

  @Test func winogradGradientsAreTheAdjointsOfTheConvolution() {
    // 48×48 gives 144 Winograd tiles, above the per-call threshold, so both gradients go through Winograd where the
    // CPU has the AVX-512 GEMM (im2col elsewhere). For any directions V: ⟨∂X, V⟩ = ⟨∂Y, conv(V, W)⟩ and
    // ⟨∂W, V⟩ = ⟨∂Y, conv(x, V)⟩; the tile count is not a multiple of the GEMM panels, and 48 = 12 whole tiles.
    var random = Generator(state: 13)
    let x = random.tensor([2, 12, 48, 48])
    let w = random.tensor([10, 12, 3, 3], scale: 0.1)
    let r = random.tensor([2, 10, 48, 48])
    let g = conv2dBackward(outputGradient: r, input: x, weight: w, padding: 1)
    let direction = random.tensor(x.shape)
    let analytic = GradientTests.contracted(g.input!, direction)
    let expected = GradientTests.contracted(conv2d(direction, weight: w, bias: nil, padding: 1), r)
    #expect(abs(analytic - expected) <= 1e-4 * abs(expected), "⟨∂X, V⟩ \(analytic) vs \(expected)")
    let weightDirection = random.tensor(w.shape)
    let weightAnalytic = GradientTests.contracted(g.weight, weightDirection)
    let weightExpected = GradientTests.contracted(conv2d(x, weight: weightDirection, bias: nil, padding: 1), r)
    #expect(
      abs(weightAnalytic - weightExpected) <= 1e-4 * abs(weightExpected),
      "⟨∂W, V⟩ \(weightAnalytic) vs \(weightExpected)")
    let withoutInput = conv2dBackward(outputGradient: r, input: x, weight: w, padding: 1, computeInputGradient: false)
    #expect(withoutInput.input == nil && withoutInput.weight == g.weight && withoutInput.bias == g.bias)
  }

  @Test func winogradWeightGradientHandlesPartialEdgeTiles() {
    // 45×50: the last tile row and column are partial (zero beyond the image); checked element-wise against
    // finite-difference-free exact identities on a basis direction per weight.
    var random = Generator(state: 14)
    let x = random.tensor([1, 5, 45, 50])
    let w = random.tensor([3, 5, 3, 3], scale: 0.2)
    let r = random.tensor([1, 3, 45, 50])
    let g = conv2dBackward(outputGradient: r, input: x, weight: w, padding: 1)
    var expected = Tensor(shape: w.shape, repeating: 0)
    for index in 0..<w.count {
      var basis = [Float](repeating: 0, count: w.count)
      basis[index] = 1
      expected.withUnsafeMutableBufferPointer {
        $0[index] = Float(
          GradientTests.contracted(
            conv2d(x, weight: Tensor(shape: w.shape, scalars: basis), bias: nil, padding: 1), r))
      }
    }
    let comparison = TensorComparison(g.weight, expected)
    #expect(comparison.isClose(relative: 1e-4), "∂W: \(comparison)")
  }

  /// ∂L/∂W of a 3×3, stride-1, padding-1 convolution summed directly in double precision: `outputGradient`
  /// `[N, O, H, W]`, `input` `[N, C, H, W]` → `[O, C, 3, 3]`.
  private static func directWeightGradient(outputGradient r: Tensor, input x: Tensor) -> Tensor {
    let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let outputs = r.shape[1]
    let (xs, rs) = (x.scalars, r.scalars)
    var expected = [Float](repeating: 0, count: outputs * channels * 9)
    for o in 0..<outputs {
      for c in 0..<channels {
        for i in 0..<3 {
          for j in 0..<3 {
            var total = 0.0
            for n in 0..<batch {
              for y in 0..<height where (0..<height).contains(y + i - 1) {
                for column in 0..<width where (0..<width).contains(column + j - 1) {
                  let gradient = rs[((n * outputs + o) * height + y) * width + column]
                  let value = xs[((n * channels + c) * height + y + i - 1) * width + column + j - 1]
                  total += Double(gradient) * Double(value)
                }
              }
            }
            expected[((o * channels + c) * 3 + i) * 3 + j] = Float(total)
          }
        }
      }
    }
    return Tensor(shape: [outputs, channels, 3, 3], scalars: expected)
  }

  /// ∂L/∂x and ∂L/∂b of a 3×3, stride-1, padding-1 convolution summed directly in double precision:
  /// `outputGradient` `[N, O, H, W]`, `weight` `[O, C, 3, 3]` → `[N, C, H, W]` and `[O]`.
  private static func directInputAndBiasGradients(outputGradient r: Tensor, weight w: Tensor) -> (Tensor, Tensor) {
    let (batch, outputs, height, width) = (r.shape[0], r.shape[1], r.shape[2], r.shape[3])
    let channels = w.shape[1]
    let (rs, ws) = (r.scalars, w.scalars)
    var input = [Float](repeating: 0, count: batch * channels * height * width)
    for n in 0..<batch {
      for c in 0..<channels {
        for y in 0..<height {
          for column in 0..<width {
            var total = 0.0
            for o in 0..<outputs {
              for i in 0..<3 where (0..<height).contains(y + 1 - i) {
                for j in 0..<3 where (0..<width).contains(column + 1 - j) {
                  let gradient = rs[((n * outputs + o) * height + y + 1 - i) * width + column + 1 - j]
                  total += Double(gradient) * Double(ws[((o * channels + c) * 3 + i) * 3 + j])
                }
              }
            }
            input[((n * channels + c) * height + y) * width + column] = Float(total)
          }
        }
      }
    }
    let plane = height * width
    let bias = (0..<outputs).map { o in
      Float(
        (0..<batch).reduce(0.0) { total, n in
          rs[((n * outputs + o) * plane)..<((n * outputs + o + 1) * plane)].reduce(total) { $0 + Double($1) }
        })
    }
    return (Tensor(shape: [batch, channels, height, width], scalars: input), Tensor(shape: [outputs], scalars: bias))
  }

  /// A random 3×3 convolution (input `x`, weight `w` uniform in ±`weightScale`, output gradient `r`, from
  /// `Generator(state:)`) with its weight, input and bias gradients summed directly in double precision.
  private static func convolutionWithDirectGradients(
    state: UInt64, batch: Int, channels: Int, outputs: Int, height: Int, width: Int, weightScale: Float
  ) -> (x: Tensor, w: Tensor, r: Tensor, weight: Tensor, input: Tensor, bias: Tensor) {
    var random = Generator(state: state)
    let x = random.tensor([batch, channels, height, width])
    let w = random.tensor([outputs, channels, 3, 3], scale: weightScale)
    let r = random.tensor([batch, outputs, height, width])
    let (input, bias) = directInputAndBiasGradients(outputGradient: r, weight: w)
    return (x, w, r, directWeightGradient(outputGradient: r, input: x), input, bias)
  }

  /// Expects the three Winograd gradients close to the direct sums (the bias to rounding, as it is a plain sum).
  private static func expectGradients(
    _ actual: Conv2DGradients, weight: Tensor, input: Tensor, bias: Tensor, _ context: String
  ) {
    let weightComparison = TensorComparison(actual.weight, weight)
    #expect(weightComparison.isClose(relative: 3e-5), "∂W, \(context): \(weightComparison)")
    let biasComparison = TensorComparison(actual.bias, bias)
    #expect(biasComparison.isClose(relative: 1e-6), "∂b, \(context): \(biasComparison)")
    if let inputGradient = actual.input {
      let inputComparison = TensorComparison(inputGradient, input)
      #expect(inputComparison.isClose(relative: 3e-5), "∂x, \(context): \(inputComparison)")
    } else {
      Issue.record("∂x missing, \(context)")
    }
  }

  @Test(
    "the Winograd input gradient of many channels (several 16 × 16 blocks of the flipped kernel) matches direct sums",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"))
  func winogradGradientsOfManyChannelsMatchDirectSums() {
    // 35 inputs and 18 outputs: the flipped, transposed kernel is copied in 16 × 16 blocks, some of them partial.
    let (x, w, r, weightGradient, inputGradient, biasGradient) = Self.convolutionWithDirectGradients(
      state: 24, batch: 1, channels: 35, outputs: 18, height: 13, width: 14, weightScale: 0.1)
    let actual = conv2d3x3WinogradBackward(outputGradient: r, input: x, weight: w, tile: .four)
    Self.expectGradients(actual, weight: weightGradient, input: inputGradient, bias: biasGradient, "35 → 18")
  }

  @Test(
    "the Winograd gradients of either tile match direct double sums at every vector level",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"),
    arguments: WinogradTile.allCases)
  func winogradGradientsMatchDirectSums(tile: WinogradTile) {
    // 26 × 31 leaves partial tiles of both sizes; two images; 5 outputs and 6 inputs leave partial GEMM panels.
    let (x, w, r, weightGradient, inputGradient, biasGradient) = Self.convolutionWithDirectGradients(
      state: 21, batch: 2, channels: 6, outputs: 5, height: 26, width: 31, weightScale: 0.2)
    for level in VectorExtension.allCases where level <= ComputeOptions.supportedVectorExtension {
      let actual = ComputeOptions.withVectorExtensionLimit(level) {
        conv2d3x3WinogradBackward(outputGradient: r, input: x, weight: w, tile: tile)
      }
      Self.expectGradients(
        actual, weight: weightGradient, input: inputGradient, bias: biasGradient, "\(tile) at \(level)")
      let weightOnly = ComputeOptions.withVectorExtensionLimit(level) {
        conv2d3x3WinogradBackward(outputGradient: r, input: x, weight: w, tile: tile, computeInputGradient: false)
      }
      #expect(weightOnly.input == nil && weightOnly.weight == actual.weight && weightOnly.bias == actual.bias)
    }
  }

  @Test(
    "the Winograd gradients match direct double sums across channel groups, panels, blocks and K blocks",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"),
    arguments: WinogradTile.allCases)
  func winogradGradientsAcrossBlocksAndPanels(tile: WinogradTile) {
    // 40 inputs: three 16-channel groups, the last half padding, in a partial GEMM panel; 33 outputs: a partial
    // last panel in both families (14 and 6 rows) and groups of 14 or 12. 2 × 100 × 110 has 1400 F(4×4) and 646
    // F(6×6) tiles: blocks of at most 32 tiles make many blocks, which split tile rows (the input gradient adds
    // across block edges); blocks of up to 704 tiles exceed 5/4 of the largest GEMM K block (512), so each is
    // reduced in two or more K blocks on any CPU, and runs of 64 tiles split rows of 19 or 28 tiles.
    let (x, w, r, weightGradient, inputGradient, biasGradient) = Self.convolutionWithDirectGradients(
      state: 33, batch: 2, channels: 40, outputs: 33, height: 100, width: 110, weightScale: 0.1)
    for kernel in [MatrixKernel.avx2, .avx512] where kernel.isSupported {
      for level in VectorExtension.allCases where level <= ComputeOptions.supportedVectorExtension {
        for maximumBlock in [32, 704] {
          let actual = ComputeOptions.withMatrixKernel(kernel) {
            ComputeOptions.withVectorExtensionLimit(level) {
              conv2d3x3WinogradBackward(
                outputGradient: r, input: x, weight: w, tile: tile, maximumBlock: maximumBlock)
            }
          }
          Self.expectGradients(
            actual, weight: weightGradient, input: inputGradient, bias: biasGradient,
            "\(tile), \(kernel) kernels at \(level), blocks of \(maximumBlock)")
        }
      }
    }
  }

  @Test(
    "threads taking whole blocks of the Winograd backward match direct sums, the same way every run",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"),
    arguments: WinogradTile.allCases)
  func winogradGradientsWithWholeBlocksPerThread(tile: WinogradTile) {
    // 2 × 61 × 47 has 384 F(4×4) and 180 F(6×6) tiles: blocks of 32 make 12 or 6, so two and three threads (and
    // four on the 12) each sum their own run of blocks into an accumulator of their own; one thread, and four on
    // the 6, share one accumulator.
    let (x, w, r, weightGradient, inputGradient, biasGradient) = Self.convolutionWithDirectGradients(
      state: 45, batch: 2, channels: 19, outputs: 21, height: 61, width: 47, weightScale: 0.2)
    for threads in [1, 2, 3, 4] {
      let runs = (0..<2).map { _ in
        ComputeOptions.withThreadCount(threads) {
          conv2d3x3WinogradBackward(outputGradient: r, input: x, weight: w, tile: tile, maximumBlock: 32)
        }
      }
      Self.expectGradients(
        runs[0], weight: weightGradient, input: inputGradient, bias: biasGradient, "\(tile), \(threads) threads")
      #expect(
        runs[0].weight.scalars == runs[1].weight.scalars && runs[0].bias.scalars == runs[1].bias.scalars
          && runs[0].input?.scalars == runs[1].input?.scalars, "\(tile), \(threads) threads: runs differ")
    }
  }

  /// An upsampler's convolution (of `upsampleNearest2x(x)`) with random tensors and its direct double-sum
  /// gradients: `∂W`, `∂b` and `∂x` (the upsampled image's input gradient summed over each 2×2 block).
  private static func upsamplingConvolutionWithDirectGradients(
    state: UInt64, batch: Int, channels: Int, outputs: Int, height: Int, width: Int
  ) -> (x: Tensor, w: Tensor, r: Tensor, weight: Tensor, input: Tensor, bias: Tensor) {
    var random = Generator(state: state)
    let x = random.tensor([batch, channels, height, width])
    let w = random.tensor([outputs, channels, 3, 3], scale: 0.2)
    let r = random.tensor([batch, outputs, 2 * height, 2 * width])
    let (input, bias) = directInputAndBiasGradients(outputGradient: r, weight: w)
    let weight = directWeightGradient(outputGradient: r, input: upsampleNearest2x(x))
    return (x, w, r, weight, upsampleNearest2xBackward(outputGradient: input), bias)
  }

  @Test(
    "the sub-pixel gradients of an upsampler's convolution match direct double sums at every vector level",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"))
  func upsamplingGradientsMatchDirectSums() {
    // Stored sides that are multiples of 7 and not (the odd phases' extra tile), one pixel, partial GEMM panels
    // (5 outputs make 20 product rows), more product rows than one 16-channel group.
    for (index, (batch, channels, outputs, height, width)) in [
      (2, 6, 5, 13, 15), (1, 3, 4, 7, 14), (1, 2, 3, 1, 1), (1, 17, 9, 20, 9),
    ].enumerated() {
      let (x, w, r, weightGradient, inputGradient, biasGradient) = Self.upsamplingConvolutionWithDirectGradients(
        state: UInt64(60 + index), batch: batch, channels: channels, outputs: outputs, height: height, width: width)
      for level in VectorExtension.allCases where level >= .avx2 && level <= ComputeOptions.supportedVectorExtension {
        let actual = ComputeOptions.withVectorExtensionLimit(level) {
          conv2d3x3WinogradUpsamplingBackward(outputGradient: r, input: x, weight: w)
        }
        Self.expectGradients(
          actual, weight: weightGradient, input: inputGradient, bias: biasGradient, "\(x.shape) at \(level)")
        let weightOnly = ComputeOptions.withVectorExtensionLimit(level) {
          conv2d3x3WinogradUpsamplingBackward(outputGradient: r, input: x, weight: w, computeInputGradient: false)
        }
        #expect(weightOnly.input == nil && weightOnly.weight == actual.weight && weightOnly.bias == actual.bias)
      }
    }
  }

  @Test(
    "threads taking whole blocks of the sub-pixel upsampler backward match direct sums, the same way every run",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"))
  func upsamplingGradientsWithWholeBlocksPerThread() {
    // 2 × 9 × 7 = 126 tiles of 60 × 48: blocks of 32 make 4, so two threads each sum their own run of blocks into
    // an accumulator of their own, and three and four share one; the input gradient's blocks likewise.
    let (x, w, r, weightGradient, inputGradient, biasGradient) = Self.upsamplingConvolutionWithDirectGradients(
      state: 70, batch: 2, channels: 19, outputs: 21, height: 60, width: 48)
    for threads in [1, 2, 3, 4] {
      let runs = (0..<2).map { _ in
        ComputeOptions.withThreadCount(threads) {
          conv2d3x3WinogradUpsamplingBackward(outputGradient: r, input: x, weight: w, maximumBlock: 32)
        }
      }
      Self.expectGradients(
        runs[0], weight: weightGradient, input: inputGradient, bias: biasGradient, "\(threads) threads")
      #expect(
        runs[0].weight.scalars == runs[1].weight.scalars && runs[0].bias.scalars == runs[1].bias.scalars
          && runs[0].input?.scalars == runs[1].input?.scalars, "\(threads) threads: runs differ")
    }
  }

  @Test("an Adam step at every vector level and on two threads equals the scalar formula bit for bit")
  func adamStepEqualsTheScalarFormula() {
    // 16 · 75 + 13 parameters: whole vectors of both widths and a tail; moments already nonzero (a later step).
    let count = 16 * 75 + 13
    let gradient = NaiveKernels.uniform([count], seed: 41, scale: 2).scalars
    let start = NaiveKernels.uniform([count], seed: 42).scalars
    let first = NaiveKernels.uniform([count], seed: 43, scale: 0.1).scalars
    let second = NaiveKernels.uniform([count], seed: 44, scale: 0.1).scalars.map { $0 * $0 }
    let (beta1, beta2, stepSize, correction2Root, epsilon): (Float, Float, Float, Float, Float) = (
      0.9, 0.999, 3e-4, 0.0447, 1e-8
    )
    var (expected, expectedFirst, expectedSecond) = (start, first, second)
    for i in 0..<count {
      expectedFirst[i] = beta1 * expectedFirst[i] + (1 - beta1) * gradient[i]
      expectedSecond[i] = beta2 * expectedSecond[i] + (1 - beta2) * gradient[i] * gradient[i]
      let denominator = expectedSecond[i].squareRoot() / correction2Root + epsilon
      expected[i] -= stepSize * expectedFirst[i] / denominator
    }
    for level in VectorExtension.allCases where level <= ComputeOptions.supportedVectorExtension {
      for threads in [1, 2] {
        var (theta, m, v) = (start, first, second)
        ComputeOptions.withThreadCount(threads) {
          ComputeOptions.withVectorExtensionLimit(level) {
            theta.withUnsafeMutableBufferPointer { theta in
              m.withUnsafeMutableBufferPointer { m in
                v.withUnsafeMutableBufferPointer { v in
                  adamStep(
                    parameters: theta.baseAddress!, gradient: gradient, firstMoment: m.baseAddress!,
                    secondMoment: v.baseAddress!, count: count, beta1: beta1, beta2: beta2, stepSize: stepSize,
                    correction2Root: correction2Root, epsilon: epsilon)
                }
              }
            }
          }
        }
        #expect(theta == expected && m == expectedFirst && v == expectedSecond, "\(level), \(threads) threads")
      }
    }
  }
}
