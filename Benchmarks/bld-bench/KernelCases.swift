internal import COpenBLAS
import TensorCore

/// The kernel-level cases of issue 2.
enum KernelCases {
  /// All kernel cases, sgemm first (its result is the peak the others are compared with).
  static func all() -> [BenchmarkCase] {
    [sgemm(2048), rawCBLASSgemm(2048)]
      + unetGEMMShapes.map { gemm(m: $0.0, n: $0.1, k: $0.2, transposeB: $0.3) }
      + [(64, 320), (32, 640), (16, 1280), (512, 128)].map { conv3x3(size: $0.0, channels: $0.1) }
      + [
        (64, 320, 2), (32, 640, 2), (16, 1280, 2), (512, 128, 1), (64, 512, 1), (128, 512, 1), (256, 512, 1),
        (256, 256, 1),
      ].map {
        winograd(size: $0.0, channels: $0.1, batch: $0.2)
      }
      + [(16, 1280, 2), (32, 640, 2)].map {
        winograd(size: $0.0, channels: $0.1, batch: $0.2, streamingWeights: true)
      }
      + [(64, 512), (128, 512), (256, 256)].flatMap { size, channels in
        [upsampler(size: size, channels: channels), upsamplerBackward(size: size, channels: channels)]
      }
      + [(512, 128), (64, 512), (128, 512), (256, 256)].flatMap { size, channels in
        [false, true].map { winogradBackward(size: size, channels: channels, inputGradient: $0) }
      }
      + [
        attention(tokens: 4096, heads: 8, headWidth: 40, batch: 2),
        attentionTraining(tokens: 4096, headWidth: 512),
        groupNorm(size: 64, channels: 320, groups: 32),
      ]
      + [
        broadcastAdd(batch: 2, channels: 320, size: 64, broadcast: false),
        broadcastAdd(batch: 2, channels: 320, size: 64, broadcast: true),
      ]
  }

  /// `sgemm-N`: an N×N by N×N product through TensorCore's `matmul`.
  static func sgemm(_ n: Int) -> BenchmarkCase {
    BenchmarkCase(name: "sgemm-\(n)", flops: 2 * pow3(n), isGEMMBacked: true) {
      let a = benchmarkTensor([n, n], seed: 1)
      let b = benchmarkTensor([n, n], seed: 2)
      return { blackHole(matmul(a, b)) }
    }
  }

  /// The products of an SD UNet step at 64×64 latents, batch 2: an im2col 3×3 convolution (320 channels), a
  /// linear layer, attention's scores and its value product, a 640-channel convolution.
  static let unetGEMMShapes: [(Int, Int, Int, Bool)] = [
    (320, 4096, 2880, false), (4096, 320, 320, true), (4096, 4096, 40, true), (4096, 40, 4096, false),
    (640, 1024, 5760, false),
  ]

  /// `gemm-MxNxK[-tB]`: one `PackedGEMM.multiply` (op(B) transposed with `-tB`) into a preallocated output.
  static func gemm(m: Int, n: Int, k: Int, transposeB: Bool) -> BenchmarkCase {
    BenchmarkCase(
      name: "gemm-\(m)x\(n)x\(k)\(transposeB ? "-tB" : "")", flops: 2 * Double(m * n * k), isGEMMBacked: true
    ) {
      let a = benchmarkTensor([m, k], seed: 14).scalars
      let b = benchmarkTensor(transposeB ? [n, k] : [k, n], seed: 15).scalars
      let c = UnsafeMutableBufferPointer<Float>.allocate(capacity: m * n)
      c.initialize(repeating: 0)
      return {
        a.withUnsafeBufferPointer { a in
          b.withUnsafeBufferPointer { b in
            try? PackedGEMM.multiply(
              transposeA: false, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: transposeB ? k : n,
              c: c, ldc: n, beta: 0, precision: ComputeOptions.matrixPrecision)
          }
        }
        blackHole(c[0])
      }
    }
  }

  /// `sgemm-N-cblas`: the same product as one raw `cblas_sgemm` call into a preallocated output, i.e. what
  /// OpenBLAS itself does from C in this process. `Benchmarks/sgemm_reference.c` measures the same from a C program.
  static func rawCBLASSgemm(_ n: Int) -> BenchmarkCase {
    BenchmarkCase(
      name: "sgemm-\(n)-cblas", flops: 2 * pow3(n), isGEMMBacked: true,
      extraFields: ["openblas_core": .string(String(cString: openblas_get_corename()))]
    ) {
      let a = benchmarkTensor([n, n], seed: 1).scalars
      let b = benchmarkTensor([n, n], seed: 2).scalars
      let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
      c.initialize(repeating: 0, count: n * n)
      return {
        a.withUnsafeBufferPointer { x in
          b.withUnsafeBufferPointer { y in
            cblas_sgemm(
              CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, x.baseAddress, Int32(n),
              y.baseAddress, Int32(n), 0, c, Int32(n))
          }
        }
        blackHole(c[n])
      }
    }
  }

  /// `conv3x3-HxWxC`: batch 1, C → C channels, 3×3, stride 1, padding 1, with bias.
  static func conv3x3(size: Int, channels: Int) -> BenchmarkCase {
    let elements = Double(channels * size * size)
    let inputOutputMB = 2 * elements * 4 / 1_048_576
    return BenchmarkCase(
      name: "conv3x3-\(size)x\(size)x\(channels)",
      flops: 2 * Double(channels) * elements * 9, isGEMMBacked: true,
      extraFields: [
        "input_output_mb": .number(inputOutputMB),
        "peak_rss_bound_mb": .number(3 * inputOutputMB),
      ]
    ) {
      let x = benchmarkTensor([1, channels, size, size], seed: 3)
      let weight = benchmarkTensor([channels, channels, 3, 3], seed: 4) * 0.02
      let bias = benchmarkTensor([channels], seed: 5)
      return { blackHole(conv2d(x, weight: weight, bias: bias, stride: 1, padding: 1)) }
    }
  }

  /// `winograd-BxCxHxW`: batch B, C → C channels, 3×3, stride 1, padding 1, with bias, through
  /// `conv2d3x3Winograd(_:weight:bias:)` (weights transformed per call, as the networks run it); with
  /// `streamingWeights`, `winograd-streaming-BxCxHxW` through `conv2d3x3WinogradStreamingWeights` (F(4×4), the
  /// weights transformed block by block inside the products, as `ConvolutionAlgorithm.preferred` runs small
  /// images). GFLOP/s count the direct convolution's multiply-adds, so they can exceed the machine's FMA peak.
  static func winograd(size: Int, channels: Int, batch: Int, streamingWeights: Bool = false) -> BenchmarkCase {
    BenchmarkCase(
      name: "winograd-\(streamingWeights ? "streaming-" : "")\(batch)x\(channels)x\(size)x\(size)",
      flops: 2 * 9 * Double(batch * channels * channels * size * size), isGEMMBacked: true
    ) {
      let x = benchmarkTensor([batch, channels, size, size], seed: 16)
      let weight = benchmarkTensor([channels, channels, 3, 3], seed: 17) * 0.02
      let bias = benchmarkTensor([channels], seed: 18)
      guard streamingWeights else { return { blackHole(conv2d3x3Winograd(x, weight: weight, bias: bias)) } }
      return {
        weight.withUnsafeBufferPointer { w in
          blackHole(
            conv2d3x3WinogradStreamingWeights(
              x, weightShape: weight.shape, weight: .float32(w.baseAddress!), bias: bias, tile: .four))
        }
      }
    }
  }

  /// `upsampler-1xCxHxW`: the convolution of a VAE decoder's upsampler (`Upsample2D`): a batch-1 `[1, C, H, W]`
  /// image upsampled 2× (nearest) and convolved C → C, 3×3 stride 1 padding 1, with bias, through
  /// `conv2dPreferringWinograd(upsamplingInput: true)` as the decoder runs it. GFLOP/s count the direct
  /// convolution of the upsampled image.
  static func upsampler(size: Int, channels: Int) -> BenchmarkCase {
    BenchmarkCase(
      name: "upsampler-1x\(channels)x\(size)x\(size)", flops: 2 * 9 * Double(channels * channels * 4 * size * size),
      isGEMMBacked: true
    ) {
      let x = benchmarkTensor([1, channels, size, size], seed: 22)
      let weight = benchmarkTensor([channels, channels, 3, 3], seed: 23) * 0.02
      let bias = benchmarkTensor([channels], seed: 24)
      return {
        blackHole(conv2dPreferringWinograd(x, weight: weight, bias: bias, stride: 1, padding: 1, upsamplingInput: true))
      }
    }
  }

  /// `upsampler-backward-1xCxHxW`: the backward pass of `upsampler-1xCxHxW`'s convolution through
  /// `conv2dBackward(outputGradient:upsampledInput:…)` as the decoder fine-tune runs it: the weight, bias and input
  /// gradients. GFLOP/s count the direct gradients' multiply-adds on the upsampled image (two convolutions' worth).
  static func upsamplerBackward(size: Int, channels: Int) -> BenchmarkCase {
    BenchmarkCase(
      name: "upsampler-backward-1x\(channels)x\(size)x\(size)",
      flops: 2 * 2 * 9 * Double(channels * channels * 4 * size * size), isGEMMBacked: true
    ) {
      let x = benchmarkTensor([1, channels, size, size], seed: 25)
      let dy = benchmarkTensor([1, channels, 2 * size, 2 * size], seed: 26)
      let weight = benchmarkTensor([channels, channels, 3, 3], seed: 27) * 0.02
      return {
        let gradients = conv2dBackward(outputGradient: dy, upsampledInput: x, weight: weight, stride: 1, padding: 1)
        blackHole(gradients.weight)
        if let input = gradients.input { blackHole(input) }
      }
    }
  }

  /// `winograd-weight-gradient-1xCxHxW` (`inputGradient` false) and `winograd-backward-1xCxHxW` (true): the
  /// backward pass of a batch-1, C → C, 3×3 stride-1 padding-1 convolution through `conv2dBackward` (the Winograd
  /// pass: the weight and bias gradients, and the input gradient when asked). GFLOP/s count the direct gradients'
  /// multiply-adds (one convolution's worth per gradient), as `winograd-…` does.
  static func winogradBackward(size: Int, channels: Int, inputGradient: Bool) -> BenchmarkCase {
    BenchmarkCase(
      name: "winograd-\(inputGradient ? "backward" : "weight-gradient")-1x\(channels)x\(size)x\(size)",
      flops: (inputGradient ? 2 : 1) * 2 * 9 * Double(channels * channels * size * size), isGEMMBacked: true
    ) {
      let x = benchmarkTensor([1, channels, size, size], seed: 19)
      let dy = benchmarkTensor([1, channels, size, size], seed: 20)
      let weight = benchmarkTensor([channels, channels, 3, 3], seed: 21) * 0.02
      return {
        let gradients = conv2dBackward(
          outputGradient: dy, input: x, weight: weight, stride: 1, padding: 1, computeInputGradient: inputGradient)
        blackHole(gradients.weight)
        if let input = gradients.input { blackHole(input) }
      }
    }
  }

  /// `attention-TxHxD-bB`: self-attention over T tokens, H heads of width D, batch B.
  static func attention(tokens: Int, heads: Int, headWidth: Int, batch: Int) -> BenchmarkCase {
    let width = heads * headWidth
    let fullScoresMB = Double(batch * heads * tokens * tokens) * 4 / 1_048_576
    let tileMB =
      Double(attentionScoreWorkspaceElements(queryCount: tokens, keyCount: tokens, headWidth: headWidth)) * 4
      / 1_048_576
    return BenchmarkCase(
      name: "attention-\(tokens)x\(heads)x\(headWidth)-b\(batch)",
      flops: 4 * Double(batch * heads) * Double(tokens) * Double(tokens) * Double(headWidth), isGEMMBacked: true,
      extraFields: [
        "qkvo_mb": .number(4 * Double(batch * tokens * width) * 4 / 1_048_576),
        "full_score_matrix_mb": .number(fullScoresMB),
        "score_workspace_mb": .number(tileMB),
      ]
    ) {
      let q = benchmarkTensor([batch, tokens, width], seed: 6)
      let k = benchmarkTensor([batch, tokens, width], seed: 7)
      let v = benchmarkTensor([batch, tokens, width], seed: 8)
      return { blackHole(scaledDotProductAttention(query: q, key: k, value: v, headCount: heads)) }
    }
  }

  /// `attention-training-Tx1xD`: the attention of a VAE's mid block in a decoder fine-tuning step (one head of
  /// width D over T tokens, batch 1): the forward keeping its probabilities, then the backward reading them.
  /// GFLOP/s count the six `T × T × D` products (two forward, four backward).
  static func attentionTraining(tokens: Int, headWidth: Int) -> BenchmarkCase {
    BenchmarkCase(
      name: "attention-training-\(tokens)x1x\(headWidth)",
      flops: 12 * Double(tokens) * Double(tokens) * Double(headWidth), isGEMMBacked: true,
      extraFields: ["probabilities_mb": .number(Double(tokens * tokens) * 4 / 1_048_576)]
    ) {
      let q = benchmarkTensor([1, tokens, headWidth], seed: 6)
      let k = benchmarkTensor([1, tokens, headWidth], seed: 7)
      let v = benchmarkTensor([1, tokens, headWidth], seed: 8)
      let outputGradient = benchmarkTensor([1, tokens, headWidth], seed: 9)
      return {
        let forward = scaledDotProductAttentionKeepingProbabilities(query: q, key: k, value: v, headCount: 1)
        blackHole(forward.output)
        let gradients = scaledDotProductAttentionBackward(
          outputGradient: outputGradient, query: q, key: k, value: v, headCount: 1,
          probabilities: forward.probabilities)
        blackHole(gradients.query)
        blackHole(gradients.key)
        blackHole(gradients.value)
      }
    }
  }

  /// `groupnorm-HxWxC`: group norm of a batch-1 `[C, H, W]` activation (no fused SiLU).
  static func groupNorm(size: Int, channels: Int, groups: Int) -> BenchmarkCase {
    BenchmarkCase(
      name: "groupnorm-\(size)x\(size)x\(channels)", flops: nil, isGEMMBacked: false,
      extraFields: ["bytes_moved_mb": .number(Double(3 * channels * size * size * 4) / 1_048_576)]
    ) {
      let x = benchmarkTensor([1, channels, size, size], seed: 9)
      let weight = benchmarkTensor([channels], seed: 10)
      let bias = benchmarkTensor([channels], seed: 11)
      return { blackHole(TensorCore.groupNorm(x, groupCount: groups, weight: weight, bias: bias, epsilon: 1e-5)) }
    }
  }

  /// `add-BxCxHxW` (same shapes) or `add-bias-BxCxHxW` (a `[B, C, 1, 1]` operand, as a time-embedding add).
  static func broadcastAdd(batch: Int, channels: Int, size: Int, broadcast: Bool) -> BenchmarkCase {
    let shape = [batch, channels, size, size]
    let count = Double(shape.reduce(1, *))
    return BenchmarkCase(
      name: "add-\(broadcast ? "bias-" : "")\(batch)x\(channels)x\(size)x\(size)", flops: count, isGEMMBacked: false,
      extraFields: ["bytes_moved_mb": .number((broadcast ? 2 : 3) * count * 4 / 1_048_576)]
    ) {
      let a = benchmarkTensor(shape, seed: 12)
      let b = benchmarkTensor(broadcast ? [batch, channels, 1, 1] : shape, seed: 13)
      return { blackHole(a + b) }
    }
  }

  private static func pow3(_ n: Int) -> Double { Double(n) * Double(n) * Double(n) }
}

/// Keeps `value` alive and opaque to the optimiser.
@inline(never)
func blackHole<T>(_ value: T) {
  withExtendedLifetime(value) {}
}
