import Foundation
import TensorCore
import Testing

@Suite("StoredTensor keeps half-precision weights and widens them exactly")
struct StoredTensorTests {
  @Test func float16WideningIsExactForEveryBitPattern() {
    let bits = (0...UInt16.max).map { $0 }
    let stored = StoredTensor(shape: [bits.count], halfPrecisionBits: bits, dtype: .float16)
    #expect(stored.byteCount == bits.count * 2 && stored.dtype == .float16)
    let widened = stored.tensor.scalars
    #expect(widened.count == bits.count)
    for (bit, value) in zip(bits, widened) {
      let expected = Float(Float16(bitPattern: bit))
      #expect(value.bitPattern == expected.bitPattern || (value.isNaN && expected.isNaN), "bits \(bit)")
    }
  }

  @Test func bfloat16WideningShiftsIntoTheHighHalf() {
    let values: [Float] = [1, -2.5, 0, 3.140625, -0.0078125]
    let bits = values.map { UInt16($0.bitPattern >> 16) }
    let stored = StoredTensor(shape: [5], halfPrecisionBits: bits, dtype: .bfloat16)
    #expect(stored.tensor.scalars == values)
  }

  @Test func zerosAllocateNothingUntilRead() {
    let stored = StoredTensor.zeros(shape: [3, 4])
    #expect(stored.byteCount == 0)
    #expect(stored.tensor == Tensor(shape: [3, 4]))
  }

  @Test func safetensorsKeepFloat16Data() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("stored-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    let original = Tensor(shape: [2, 3], scalars: [0.5, -1, 2, 65504, 1e-3, 0])
    try SafetensorsFile.write(["w": original], dtype: .float16, to: url)
    let stored = try SafetensorsFile(contentsOf: url).storedTensor(named: "w")
    #expect(stored.dtype == .float16 && stored.shape == [2, 3])
    #expect(stored.tensor == (try SafetensorsFile(contentsOf: url).tensor(named: "w")))
  }

  @Test(arguments: [SafetensorsDType.float32, .float16, .bfloat16])
  func mappedTensorsReadTheSameValuesAsCopiedOnes(dtype: SafetensorsDType) throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mapped-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    // Large enough that the widening is split over the compute threads, with a ragged tail.
    let shape = [333, 517]
    let original = Tensor(shape: shape) { buffer in
      for index in buffer.indices { buffer[index] = Float(index % 1013) * 0.03125 - 15 }
    }
    try SafetensorsFile.write(
      ["table": original, "bias": Tensor(shape: [3], scalars: [1, 2, 3])], dtype: dtype, to: url)
    let file = try SafetensorsFile(contentsOf: url)
    let copied = try file.storedTensor(named: "table", residency: .memory)
    let mapped = try file.storedTensor(named: "table", residency: .mappedFile)
    #expect(mapped.isMappedFromFile && !copied.isMappedFromFile)
    #expect(mapped.byteCount == 0 && copied.byteCount == original.count * (dtype == .float32 ? 4 : 2))
    #expect(mapped.dtype == dtype && mapped.shape == shape)
    #expect(mapped.tensor == copied.tensor)
    #expect(mapped.tensor == copied.tensor, "a second read after the pages were released")
    if dtype == .float32 { #expect(mapped.tensor == original) }
    let indices = [332, 0, 7, 7, 100]
    let expected = copied.tensor.scalars
    let rows = mapped.rows(indices)
    #expect(rows.shape == [5, 517])
    for (row, index) in indices.enumerated() {
      #expect(
        Array(rows.scalars[(row * 517)..<((row + 1) * 517)]) == Array(expected[(index * 517)..<((index + 1) * 517)]))
    }
  }

  @Test func mappedTensorsOutliveTheirFileObject() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("outlive-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    let original = Tensor(shape: [4], scalars: [0.5, -1, 2, 8])
    try SafetensorsFile.write(["w": original], dtype: .float16, to: url)
    let stored = try SafetensorsFile(contentsOf: url).storedTensor(named: "w", residency: .mappedFile)
    #expect(stored.tensor == original)
  }

  @Test func unalignedHalfPrecisionDataConvertsLikeAlignedData() {
    let values: [Float] = [1, -2.5, 0.333251953125, 65504, -0.0001, 3]
    for dtype in [SafetensorsDType.float16, .bfloat16] {
      let bits = values.map { dtype == .float16 ? Float16($0).bitPattern : FloatConversion.bfloat16Bits($0) }
      let raw = UnsafeMutableRawPointer.allocate(byteCount: 2 * bits.count + 1, alignment: 8)
      defer { raw.deallocate() }
      for (index, bit) in bits.enumerated() { (raw + 1).storeBytes(of: bit, toByteOffset: 2 * index, as: UInt16.self) }
      var unaligned = [Float](repeating: 0, count: bits.count)
      unaligned.withUnsafeMutableBufferPointer {
        FloatConversion.convert(UnsafeRawPointer(raw + 1), dtype: dtype, into: $0)
      }
      let aligned = StoredTensor(shape: [bits.count], halfPrecisionBits: bits, dtype: dtype).tensor.scalars
      #expect(unaligned == aligned, "\(dtype)")
    }
  }

  /// The resident pages of the mapping of `url`, from `/proc/self/smaps` (nil where there is none).
  static func residentKilobytes(ofMappingOf url: URL) throws -> Int? {
    // Read to the end: /proc files report size 0, and String(contentsOfFile:) stops early on them.
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps"))
    defer { try? handle.close() }
    let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
    var inMapping = false
    var total: Int?
    for line in smaps.split(separator: "\n") {
      if let first = line.first, first.isHexDigit, line.contains("-") {
        inMapping = line.hasSuffix(url.path)
      } else if inMapping, line.hasPrefix("Rss:") {
        total = (total ?? 0) + (Int(line.split(separator: " ")[1]) ?? 0)
      }
    }
    return total
  }

  @Test func readingAMappedTensorHandsItsPagesBack() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("pages-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    let values = Tensor(shape: [1 << 20]) { buffer in for index in buffer.indices { buffer[index] = Float(index % 97) }
    }
    try SafetensorsFile.write(["w": values], dtype: .float16, to: url)  // 2 MiB of data
    let file = try SafetensorsFile(contentsOf: url)
    let stored = try file.storedTensor(named: "w", residency: .mappedFile)
    #expect(stored.tensor == values)
    // Only the header page and the partial pages at the data's ends may stay resident.
    let afterRead = try #require(try Self.residentKilobytes(ofMappingOf: url))
    #expect(afterRead <= 16, "\(afterRead) KiB of the 2 MiB tensor stay resident after the read")
    // The measurement sees pages that are touched and not released.
    let sum = try file.withRawBytes(named: "w") { raw in raw.reduce(0) { $0 &+ Int($1) } }
    #expect(sum > 0)
    #expect(try #require(try Self.residentKilobytes(ofMappingOf: url)) >= 2000)
  }
}

@Suite("A linear layer reads a half-width weight straight into its product's panels")
struct HalfPrecisionLinearTests {
  /// Shapes that take the panel-widening path (many rows) and ones that fall back to widening first (one row,
  /// few columns of a long reduction), with ragged tails in every dimension.
  @Test(arguments: [[300, 70, 133], [1, 70, 133], [517, 1, 64], [64, 300, 9]])
  func matchesTheProductWithTheWidenedWeight(shape: [Int]) throws {
    let (rows, outputs, inputs) = (shape[0], shape[1], shape[2])
    let x = Tensor(shape: [rows, inputs]) { buffer in
      for index in buffer.indices { buffer[index] = Float((index * 37) % 101) * 0.02 - 1 }
    }
    let weight = Tensor(shape: [outputs, inputs]) { buffer in
      for index in buffer.indices { buffer[index] = Float((index * 53) % 97) * 0.015625 - 0.75 }
    }
    let bias = Tensor(shape: [outputs]) { buffer in
      for index in buffer.indices { buffer[index] = Float(index % 7) - 3 }
    }
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("linear-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    for dtype in [SafetensorsDType.float16, .bfloat16] {
      try SafetensorsFile.write(["w": weight], dtype: dtype, to: url)
      let file = try SafetensorsFile(contentsOf: url)
      for residency in [WeightResidency.memory, .mappedFile] {
        let stored = try file.storedTensor(named: "w", residency: residency)
        let widened = stored.tensor
        for withBias in [false, true] {
          let expected = linear(x, weight: widened, bias: withBias ? bias : nil)
          let actual = linear(x, weight: stored, bias: withBias ? bias : nil)
          #expect(actual.shape == [rows, outputs])
          let worst = zip(actual.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
          #expect(worst <= 1e-4, "\(dtype) \(residency) bias \(withBias): largest difference \(worst)")
        }
      }
    }
  }
}
