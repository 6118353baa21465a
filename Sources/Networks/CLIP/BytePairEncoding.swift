/// Byte-level byte-pair encoding with an end-of-word suffix, as CLIP uses it.
///
/// Matches: the `tokenizers` `BPE` model that transformers' `CLIPTokenizer` builds
/// (`end_of_word_suffix="</w>"`, no continuing-subword prefix, no dropout, `fuse_unk=False`), fed by the
/// `ByteLevel` pre-tokenizer's byte → character table. A word is first turned into one symbol per UTF-8
/// byte (the last one with `</w>` appended); then the adjacent pair with the lowest merge rank is merged,
/// the leftmost one on ties, until no mergeable pair is left. Symbols missing from the vocabulary become
/// the unknown token.
struct BytePairEncoding: Sendable {
  /// Token string → id.
  let vocabulary: [String: Int]
  /// Merge rank and merged id, keyed by the two ids being merged (see ``pairKey(_:_:)``).
  private let merges: [UInt64: Merge]
  /// Id of each byte's character, for a symbol inside a word (`nil`: not in the vocabulary).
  private let byteIDs: [Int?]
  /// Id of each byte's character followed by `</w>`, for the last symbol of a word.
  private let finalByteIDs: [Int?]
  /// Id used for symbols missing from the vocabulary.
  let unknownID: Int?

  /// The suffix that marks the end of a word.
  static let endOfWordSuffix = "</w>"

  struct Merge: Sendable {
    var rank: Int
    var mergedID: Int
  }

  /// Builds the model.
  ///
  /// - Parameters:
  ///   - vocabulary: token → id.
  ///   - merges: merge pairs in rank order, each with the 1-based line it came from (for errors).
  ///   - unknownToken: the token used for symbols that are not in the vocabulary.
  ///   - source: names the merges' origin in errors.
  init(
    vocabulary: [String: Int], merges: [(String, String, line: Int)], unknownToken: String?,
    source: String
  ) throws(TokenizerError) {
    self.vocabulary = vocabulary
    var table: [UInt64: Merge] = [:]
    table.reserveCapacity(merges.count)
    for (rank, merge) in merges.enumerated() {
      guard let left = vocabulary[merge.0] else {
        throw .invalidMerge(
          file: source, line: merge.line, reason: "token \"\(merge.0)\" is not in the vocabulary")
      }
      guard let right = vocabulary[merge.1] else {
        throw .invalidMerge(
          file: source, line: merge.line, reason: "token \"\(merge.1)\" is not in the vocabulary")
      }
      guard let merged = vocabulary[merge.0 + merge.1] else {
        throw .invalidMerge(
          file: source, line: merge.line,
          reason: "merged token \"\(merge.0 + merge.1)\" is not in the vocabulary")
      }
      let key = Self.pairKey(left, right)
      // `tokenizers` keeps the first rank of a pair that is listed twice.
      if table[key] == nil {
        table[key] = Merge(rank: rank, mergedID: merged)
      }
    }
    self.merges = table
    let characters = Self.byteCharacters
    byteIDs = characters.map { vocabulary[String($0)] }
    finalByteIDs = characters.map { vocabulary[String($0) + Self.endOfWordSuffix] }
    unknownID = unknownToken.flatMap { vocabulary[$0] }
    hasEverySymbol = byteIDs.allSatisfy { $0 != nil } && finalByteIDs.allSatisfy { $0 != nil }
  }

  /// Whether every byte has a symbol both inside a word and at its end (true for the CLIP vocabularies).
  let hasEverySymbol: Bool

  /// Whether `byte` has a symbol inside a word or at its end.
  func hasSymbol(forByte byte: UInt8) -> Bool {
    byteIDs[Int(byte)] != nil || finalByteIDs[Int(byte)] != nil
  }

  /// Packs an id pair into a dictionary key.
  @inline(__always)
  static func pairKey(_ left: Int, _ right: Int) -> UInt64 {
    UInt64(UInt32(truncatingIfNeeded: left)) << 32 | UInt64(UInt32(truncatingIfNeeded: right))
  }

  /// Encodes one pre-tokenized word, given as its UTF-8 bytes, and appends its ids to `output`.
  func encode<Bytes: Collection>(word bytes: Bytes, into output: inout [Int])
  where Bytes.Element == UInt8 {
    guard !bytes.isEmpty else { return }
    var symbols: [Int] = []
    symbols.reserveCapacity(bytes.count)
    var index = bytes.startIndex
    while index != bytes.endIndex {
      let next = bytes.index(after: index)
      let byte = Int(bytes[index])
      let id = next == bytes.endIndex ? finalByteIDs[byte] : byteIDs[byte]
      if let id = id ?? unknownID {
        symbols.append(id)
      }
      index = next
    }
    if symbols.count < 2 {
      output.append(contentsOf: symbols)
    } else if symbols.count <= 48 {
      mergeByScanning(&symbols)
      output.append(contentsOf: symbols)
    } else {
      mergeWithQueue(symbols, into: &output)
    }
  }

  /// Short words: repeatedly merge the lowest-ranked (then leftmost) adjacent pair.
  private func mergeByScanning(_ symbols: inout [Int]) {
    while symbols.count > 1 {
      var best: (rank: Int, position: Int, id: Int)? = nil
      for position in 0..<(symbols.count - 1) {
        if let merge = merges[Self.pairKey(symbols[position], symbols[position + 1])],
          best == nil || merge.rank < best!.rank
        {
          best = (merge.rank, position, merge.mergedID)
        }
      }
      guard let best else { return }
      symbols[best.position] = best.id
      symbols.remove(at: best.position + 1)
    }
  }

  /// Long words: the same merge order, driven by a priority queue over a linked list of symbols
  /// (the `tokenizers` algorithm), in O(n log n).
  private func mergeWithQueue(_ initial: [Int], into output: inout [Int]) {
    var ids = initial
    let count = ids.count
    var previous = Array(-1..<(count - 1))
    var next = Array(1...count)
    next[count - 1] = -1
    var alive = [Bool](repeating: true, count: count)
    var queue = MergeQueue()
    for position in 0..<(count - 1) {
      if let merge = merges[Self.pairKey(ids[position], ids[position + 1])] {
        queue.push(.init(rank: merge.rank, position: position, mergedID: merge.mergedID))
      }
    }
    while let candidate = queue.pop() {
      let position = candidate.position
      guard alive[position] else { continue }
      let right = next[position]
      guard right >= 0,
        let merge = merges[Self.pairKey(ids[position], ids[right])],
        merge.rank == candidate.rank, merge.mergedID == candidate.mergedID
      else { continue }
      ids[position] = merge.mergedID
      alive[right] = false
      let after = next[right]
      next[position] = after
      if after >= 0 { previous[after] = position }
      let before = previous[position]
      if before >= 0, let merge = merges[Self.pairKey(ids[before], ids[position])] {
        queue.push(.init(rank: merge.rank, position: before, mergedID: merge.mergedID))
      }
      if after >= 0, let merge = merges[Self.pairKey(ids[position], ids[after])] {
        queue.push(.init(rank: merge.rank, position: position, mergedID: merge.mergedID))
      }
    }
    var position = 0
    while position >= 0 {
      output.append(ids[position])
      position = next[position]
    }
  }
}

/// A binary min-heap of candidate merges ordered by rank, then by position.
private struct MergeQueue {
  struct Entry {
    var rank: Int
    var position: Int
    var mergedID: Int

    func precedes(_ other: Entry) -> Bool {
      rank != other.rank ? rank < other.rank : position < other.position
    }
  }

  private var heap: [Entry] = []

  mutating func push(_ entry: Entry) {
    heap.append(entry)
    var child = heap.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard heap[child].precedes(heap[parent]) else { break }
      heap.swapAt(child, parent)
      child = parent
    }
  }

  mutating func pop() -> Entry? {
    guard let first = heap.first else { return nil }
    let last = heap.removeLast()
    if !heap.isEmpty {
      heap[0] = last
      var parent = 0
      while true {
        let left = 2 * parent + 1
        let right = left + 1
        var smallest = parent
        if left < heap.count, heap[left].precedes(heap[smallest]) { smallest = left }
        if right < heap.count, heap[right].precedes(heap[smallest]) { smallest = right }
        guard smallest != parent else { break }
        heap.swapAt(parent, smallest)
        parent = smallest
      }
    }
    return first
  }
}

/// GPT-2's reversible byte → printable character table (`bytes_to_unicode`).
///
/// Printable Latin-1 bytes (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) map to themselves; the other 68 bytes map, in
/// increasing order, to U+0100, U+0101, ….
extension BytePairEncoding {
  static let byteCharacters: [Character] = {
    var table = [Character](repeating: " ", count: 256)
    var extra: UInt32 = 0
    for byte in 0..<256 {
      let printable =
        (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
      let value = printable ? UInt32(byte) : 256 + extra
      if !printable { extra += 1 }
      table[byte] = Character(Unicode.Scalar(value)!)
    }
    return table
  }()
}
