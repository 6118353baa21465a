import TensorCore
import Testing

@Suite("Parallel loop pieces")
struct ParallelPieceTests {
  @Test(
    "pieces tile 0..<count in order; with more than two per thread they shrink, the last well below the mean",
    arguments: [(147, 8, 2), (1000, 8, 2), (64, 8, 2), (4096, 16, 4), (31, 8, 2), (5, 4, 2), (9, 2, 2)])
  func piecesTileTheRange(count: Int, pieces: Int, threads: Int) {
    let starts = (0...pieces).map { pieceStart($0, of: pieces, count: count, threads: threads) }
    #expect(starts.first == 0 && starts.last == count)
    let sizes = zip(starts.dropFirst(), starts).map { $0 - $1 }
    #expect(sizes.allSatisfy { $0 >= 0 }, "starts \(starts)")
    if pieces > 2 * threads && count >= 4 * pieces {
      #expect(zip(sizes.dropFirst(), sizes).allSatisfy { $0 <= $1 + 1 }, "sizes \(sizes) should not grow")
      #expect(Double(sizes.last!) <= 0.5 * Double(count) / Double(pieces), "last piece of \(sizes)")
    } else {
      #expect(sizes.max()! - sizes.min()! <= 1, "equal pieces expected, got \(sizes)")
    }
  }
}
