import Foundation
import TensorCore
import Testing
import _TestSupport

@Suite("Scaled dot-product attention")
struct AttentionTests {
  @Test("self, causal, cross (Tq ≠ Tk), tiled (Tq > tile rows) and single-query attention vs PyTorch")
  func attentionMatchesTorch() throws {
    let cases = try KernelFixture.load("attention")
    #expect(cases.count == 6)
    for (name, fixture) in cases {
      let result = scaledDotProductAttention(
        query: try #require(fixture.input("query")), key: try #require(fixture.input("key")),
        value: try #require(fixture.input("value")), headCount: fixture.int("heads"), causal: fixture.bool("causal"))
      let comparison = TensorComparison(result, fixture.expectedTensor)
      #expect(comparison.isClose(relative: 1e-5), "\(name): \(comparison)")
    }
  }

  @Test("4096 tokens × 8 heads × 40, batch 2: naive double reference to 1e-5, bounded score workspace")
  func longSequenceMatchesNaiveReferenceInBoundedMemory() throws {
    let (batch, tokens, heads, headWidth) = (2, 4096, 8, 40)
    let width = heads * headWidth
    // Scaled so the softmax is peaked (scores spread over several units), not nearly uniform.
    let query = NaiveKernels.uniform([batch, tokens, width], seed: 21, scale: 3)
    let key = NaiveKernels.uniform([batch, tokens, width], seed: 22, scale: 3)
    let value = NaiveKernels.uniform([batch, tokens, width], seed: 23)

    let result = scaledDotProductAttention(query: query, key: key, value: value, headCount: heads)

    // Every 7th query row (covering all blocks of 64 rows and both sides of some block boundaries), all heads and
    // batches.
    let tile = 256
    var rows = Array(stride(from: 0, to: tokens, by: 7))
    rows += [tile - 1, tile, tile + 1, 2 * tile - 1, 2 * tile, tokens - 1]
    var actual: [Float] = []
    var expected: [Float] = []
    for b in 0..<batch {
      for h in 0..<heads {
        for row in rows {
          let reference = NaiveKernels.attentionRow(
            query: query, key: key, value: value, headCount: heads, batch: b, head: h, row: row, causal: false)
          let base = (b * tokens + row) * width + h * headWidth
          actual += result.scalars[base..<(base + headWidth)]
          expected += reference.map { Float($0) }
        }
      }
    }
    let comparison = TensorComparison(
      Tensor(shape: [actual.count], scalars: actual), Tensor(shape: [expected.count], scalars: expected))
    #expect(comparison.isClose(relative: 1e-5), "\(comparison)")

    // Memory: a full score matrix would be 2·8·4096·4096 floats = 1 GiB (64 MiB for a single head); the kernel's
    // score workspace is bounded whatever the sequence length. (The process's peak RSS is measured by bld-bench's
    // attention case, in its own process: tests run concurrently, so RSS here would measure them all.)
    let workspaceBytes = attentionScoreWorkspaceElements(queryCount: tokens, keyCount: tokens, headWidth: headWidth) * 4
    #expect(workspaceBytes <= 1 << 20, "score workspace \(workspaceBytes) bytes")
  }

  @Test("heads wider than the fused limit take the tiled BLAS path: causal and cross vs naive reference")
  func wideHeadsMatchNaiveReference() {
    let headWidth = attentionFusedHeadWidthLimit + 32
    for (queryCount, keyCount, causal) in [(300, 300, true), (300, 77, false), (5, 600, false)] {
      let query = NaiveKernels.uniform([2, queryCount, 2 * headWidth], seed: 51, scale: 1.5)
      let key = NaiveKernels.uniform([2, keyCount, 2 * headWidth], seed: 52, scale: 1.5)
      let value = NaiveKernels.uniform([2, keyCount, 2 * headWidth], seed: 53)
      let result = scaledDotProductAttention(query: query, key: key, value: value, headCount: 2, causal: causal)
      // Tiles of 128 rows (three for 300 queries) give the same result, bit for bit.
      #expect(
        result
          == scaledDotProductAttention(
            query: query, key: key, value: value, headCount: 2, causal: causal, queryTileRows: 128))
      let workspace = attentionScoreWorkspaceElements(queryCount: queryCount, keyCount: keyCount, headWidth: headWidth)
      #expect(workspace == attentionQueryTileRows(queryCount: queryCount, keyCount: keyCount) * keyCount)
      expectRowsMatch(
        result, query: query, key: key, value: value, headCount: 2, causal: causal,
        rows: [0, 1, queryCount / 2, queryCount - 1].filter { $0 < queryCount }, label: "d=\(headWidth)")
    }
  }

  @Test("every vector-extension level of the fused kernel agrees with the naive reference")
  func everyVectorExtensionLevel() throws {
    let original = ComputeOptions.vectorExtension
    #expect(original == ComputeOptions.supportedVectorExtension)
    let fixtures = try KernelFixture.load("attention")
    for level in VectorExtension.allCases where level <= ComputeOptions.supportedVectorExtension {
      try ComputeOptions.withVectorExtensionLimit(level) {
        #expect(ComputeOptions.vectorExtension == level)
        for (name, fixture) in fixtures {
          let result = scaledDotProductAttention(
            query: try #require(fixture.input("query")), key: try #require(fixture.input("key")),
            value: try #require(fixture.input("value")), headCount: fixture.int("heads"), causal: fixture.bool("causal")
          )
          let comparison = TensorComparison(result, fixture.expectedTensor)
          #expect(comparison.isClose(relative: 1e-5), "\(level) \(name): \(comparison)")
        }
        // Head widths that exercise every column tail (of 16, 8, 4 columns on AVX-512; of 6 on AVX2: 8, 3, 24, 40,
        // 5, 13), key counts off the 16-key panels, and key counts past one 256-key block (the online softmax
        // rescales earlier partial outputs). 70 query rows leave a lone group of 8 after pairs of groups.
        for (headWidth, keyCount, causal) in [
          (8, 33, false), (24, 77, true), (40, 100, false), (72, 49, true), (3, 17, false), (40, 600, false),
          (24, 530, true), (5, 40, true), (13, 90, false),
        ] {
          let query = NaiveKernels.uniform([1, 70, 2 * headWidth], seed: 61, scale: 2)
          let key = NaiveKernels.uniform([1, keyCount, 2 * headWidth], seed: 62, scale: 2)
          let value = NaiveKernels.uniform([1, keyCount, 2 * headWidth], seed: 63)
          let result = scaledDotProductAttention(query: query, key: key, value: value, headCount: 2, causal: causal)
          expectRowsMatch(
            result, query: query, key: key, value: value, headCount: 2, causal: causal,
            rows: Array(0..<70), label: "\(level) d=\(headWidth) Tk=\(keyCount)")
        }
        for (name, fixture) in try KernelFixture.load("softmax") {
          let comparison = TensorComparison(softmax(try #require(fixture.input("x"))), fixture.expectedTensor)
          #expect(comparison.isClose(relative: 1e-6), "\(level) softmax \(name): \(comparison)")
        }
      }
    }
  }

  /// Compares the given query rows of every batch and head with `NaiveKernels.attentionRow`.
  private func expectRowsMatch(
    _ result: Tensor, query: Tensor, key: Tensor, value: Tensor, headCount: Int, causal: Bool, rows: [Int],
    label: String
  ) {
    let (batch, queryCount, width) = (query.shape[0], query.shape[1], query.shape[2])
    let headWidth = width / headCount
    var worst = 0.0
    var scale = 0.0
    for b in 0..<batch {
      for h in 0..<headCount {
        for row in rows {
          let reference = NaiveKernels.attentionRow(
            query: query, key: key, value: value, headCount: headCount, batch: b, head: h, row: row, causal: causal)
          for c in 0..<headWidth {
            let actual = Double(result.scalars[(b * queryCount + row) * width + h * headWidth + c])
            worst = max(worst, abs(actual - reference[c]))
            scale = max(scale, abs(reference[c]))
          }
        }
      }
    }
    #expect(worst <= 1e-5 * max(scale, 1e-3), "\(label): max |Δ| \(worst), max |expected| \(scale)")
  }

  @Test("causal attention over more than one tile equals the naive reference")
  func causalAcrossTiles() {
    let (tokens, heads, headWidth) = (600, 2, 16)
    let query = NaiveKernels.uniform([1, tokens, heads * headWidth], seed: 31, scale: 2)
    let key = NaiveKernels.uniform([1, tokens, heads * headWidth], seed: 32, scale: 2)
    let value = NaiveKernels.uniform([1, tokens, heads * headWidth], seed: 33)
    let result = scaledDotProductAttention(query: query, key: key, value: value, headCount: heads, causal: true)
    var worst = 0.0
    for h in 0..<heads {
      for row in [0, 1, 255, 256, 257, 511, 512, 599] {
        let reference = NaiveKernels.attentionRow(
          query: query, key: key, value: value, headCount: heads, batch: 0, head: h, row: row, causal: true)
        for c in 0..<headWidth {
          worst = max(worst, abs(Double(result.scalars[row * heads * headWidth + h * headWidth + c]) - reference[c]))
        }
      }
    }
    #expect(worst < 1e-5, "max |Δ| \(worst)")
  }
}
