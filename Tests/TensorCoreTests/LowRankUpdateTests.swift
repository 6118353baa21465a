import Foundation
import TensorCore
import Testing
import _TestSupport

/// A stored tensor with low-rank updates reads as base + Σ scale · up · down, keeps its base storage (mapped
/// stays mapped) and answers rows, dtype and byte counts consistently.
@Suite("StoredTensor low-rank updates are added on read")
struct LowRankUpdateTests {
  static func ramp(_ shape: [Int], _ step: Float, _ offset: Float) -> Tensor {
    Tensor(shape: shape) { for index in $0.indices { $0[index] = Float(index % 11) * step - offset } }
  }

  static let updates = [
    LowRankUpdate(up: ramp([6, 2], 0.25, 1), down: ramp([2, 12], 0.125, 0.5), scale: 0.75),
    LowRankUpdate(up: ramp([6, 3], -0.5, -1), down: ramp([3, 12], 0.0625, 0.25), scale: -2),
  ]

  /// base + Σ scale · up · down, reshaped to `shape`, computed naively.
  static func expected(_ base: Tensor, _ updates: [LowRankUpdate]) -> Tensor {
    var result = base.reshaped([base.shape[0], base.count / base.shape[0]])
    for update in updates {
      let (rows, columns, rank) = (update.up.shape[0], update.down.shape[1], update.rank)
      for row in 0..<rows {
        for column in 0..<columns {
          var sum: Float = 0
          for inner in 0..<rank { sum += update.up[row, inner] * update.down[inner, column] }
          result[row, column] += update.scale * sum
        }
      }
    }
    return result.reshaped(base.shape)
  }

  @Test func mappedHalfPrecisionBaseStaysMapped() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lowrank-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    let base = Self.ramp([6, 3, 2, 2], 0.5, 2)
    try SafetensorsFile.write(["w": base], dtype: .float16, to: url)
    let stored = try SafetensorsFile(contentsOf: url).storedTensor(named: "w", residency: .mappedFile)
    let adapted = stored.adding(Self.updates[0]).adding(Self.updates[1])
    #expect(adapted.isMappedFromFile && adapted.dtype == .float16 && adapted.shape == [6, 3, 2, 2])
    #expect(adapted.byteCount == Self.updates.reduce(0) { $0 + $1.byteCount })
    #expect(adapted.lowRankUpdates == Self.updates)
    let comparison = TensorComparison(adapted.tensor, Self.expected(stored.tensor, Self.updates))
    #expect(comparison.isClose(relative: 1e-6), "\(comparison)")
    #expect(adapted.withoutLowRankUpdates.tensor == stored.tensor)
    #expect(adapted.withoutLowRankUpdates.isMappedFromFile)
  }

  @Test func rowsAddTheSameRowsOfTheUpdates() {
    let base = StoredTensor(Self.ramp([6, 12], 0.5, 2))
    let adapted = base.adding(Self.updates[0]).adding(Self.updates[1])
    let full = adapted.tensor
    let rows = adapted.rows([4, 0, 4])
    #expect(rows.shape == [3, 12])
    for (row, index) in [4, 0, 4].enumerated() {
      #expect(Array(rows.scalars[row * 12..<(row + 1) * 12]) == Array(full.scalars[index * 12..<(index + 1) * 12]))
    }
    #expect(StoredTensor.zeros(shape: [6, 12]).adding(Self.updates[0]).rows([1]).shape == [1, 12])
  }

  @Test func mutatingFoldsTheUpdatesIntoFloat32() {
    let base = StoredTensor(shape: [6, 12], halfPrecisionBits: Array(repeating: 0x3C00, count: 72), dtype: .float16)
    var adapted = base.adding(Self.updates[0])
    let read = adapted.tensor
    adapted.withMutableTensor { $0[0, 0] += 1 }
    #expect(adapted.dtype == .float32 && adapted.lowRankUpdates.isEmpty && !adapted.isMappedFromFile)
    #expect(adapted.tensor.scalars[0] == read.scalars[0] + 1)
    #expect(Array(adapted.tensor.scalars.dropFirst()) == Array(read.scalars.dropFirst()))
  }
}
