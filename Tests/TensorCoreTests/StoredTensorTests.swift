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
}
