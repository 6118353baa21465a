import Foundation
import TensorCore
import Testing
import _TestSupport

/// One torch-produced sequence: a seed and the tensors drawn one after another from one generator.
private struct RandomSequence: Decodable {
  struct Draw: Decodable {
    let shape: [Int]
    let offset: Int
    let count: Int
  }
  let seed: UInt64
  let draws: [Draw]
}

private struct RandomManifest: Decodable {
  let sequences: [RandomSequence]
}

private enum RandomFixture {
  static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    .appendingPathComponent("random")

  static func load() throws -> (manifest: RandomManifest, values: [Float]) {
    let manifest = try JSONDecoder().decode(
      RandomManifest.self, from: Data(contentsOf: directory.appendingPathComponent("draws.json")))
    let data = try Data(contentsOf: directory.appendingPathComponent("draws.f32"))
    let values = data.withUnsafeBytes { raw in
      (0..<(data.count / 4)).map {
        Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
      }
    }
    return (manifest, values)
  }
}

@Suite("TorchGenerator reproduces torch.randn on CPU")
struct RandomTests {
  @Test func everyDrawMatchesTorchBitForBit() throws {
    let (manifest, values) = try RandomFixture.load()
    #expect(manifest.sequences.count >= 5)
    for sequence in manifest.sequences {
      var generator = TorchGenerator(seed: sequence.seed)
      for (index, draw) in sequence.draws.enumerated() {
        let actual = generator.randn(draw.shape)
        let expected = Tensor(shape: draw.shape, scalars: Array(values[draw.offset..<(draw.offset + draw.count)]))
        try #require(actual.shape == draw.shape)
        let mismatches = zip(actual.scalars, expected.scalars).filter { $0.0.bitPattern != $0.1.bitPattern }.count
        let comparison = TensorComparison(actual, expected)
        #expect(
          mismatches == 0,
          "seed \(sequence.seed), draw \(index) \(draw.shape): \(mismatches) of \(draw.count) differ; \(comparison)")
      }
    }
  }

  @Test func coversTheRequiredSizes() throws {
    let (manifest, _) = try RandomFixture.load()
    let counts = Set(manifest.sequences.flatMap { $0.draws.map(\.count) })
    for required in [1, 7, 16, 17, 64, 4 * 4 * 64 * 64] { #expect(counts.contains(required)) }
  }

  @Test func seedsAreDistinctAndReproducible() {
    var a = TorchGenerator(seed: 1)
    var b = TorchGenerator(seed: 1)
    var c = TorchGenerator(seed: 2)
    let first = a.randn([2, 3, 5])
    #expect(first == b.randn([2, 3, 5]))
    #expect(first != c.randn([2, 3, 5]))
    #expect(a.randn([3]) == b.normal(shape: [3]))
  }

  @Test func drawsLookStandardNormal() {
    var generator = TorchGenerator(seed: 7)
    let sample = generator.randn([100_000])
    let mean = sample.sum() / Double(sample.count)
    let variance = sample.scalars.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(sample.count) - mean * mean
    #expect(abs(mean) < 0.02)
    #expect(abs(variance - 1) < 0.02)
    #expect(sample.isFinite)
  }

  @Test func replayedNoiseReturnsTensorsInOrder() {
    let first = Tensor(shape: [4], scalars: [1, 2, 3, 4])
    let second = Tensor(shape: [2], scalars: [5, 6])
    var source = ReplayedNoise([first, second])
    #expect(source.normal(shape: [2, 2]) == first.reshaped([2, 2]))
    #expect(source.normal(shape: [2]) == second)
    #expect(source.drawCount == 2)
    #expect(source.remaining.isEmpty)
  }
}
