import BlendedLatent
import TensorCore
import Testing

@Suite("Latent masks and progressive mask shrinking")
struct MaskTests {
  @Test func shrinkingScheduleMatchesTheMethodExample() {
    let mask = LatentMask(values: Tensor(shape: [8, 8], repeating: 0))
    let shrinking = MaskShrinking(mask: mask, levels: 3, stepCount: 50)
    #expect(shrinking.interval == 13)
    #expect(shrinking.masks.count == 4)
    for step in 0..<50 {
      let expected = step <= 12 ? 7 : step <= 25 ? 5 : step <= 38 ? 3 : 1
      #expect(shrinking.kernelSize(forStep: step) == expected, "step \(step)")
    }
  }

  @Test(arguments: [(1, 10), (2, 7), (3, 37), (0, 5), (3, 3)])
  func shrinkingScheduleFollowsTheFormula(levels: Int, steps: Int) {
    let shrinking = MaskShrinking(mask: LatentMask(values: Tensor(shape: [4, 4])), levels: levels, stepCount: steps)
    let interval = steps / (levels + 1) + 1
    for step in 0..<steps {
      #expect(shrinking.maskIndex(forStep: step) == step / interval)
    }
    #expect(shrinking.maskIndex(forStep: steps - 1) <= levels)
  }

  @Test func shrinkingMasksAreSquareDilations() {
    var values = Tensor(shape: [9, 9])
    values[4, 4] = 1
    values[0, 8] = 1
    let shrinking = MaskShrinking(mask: LatentMask(values: values), levels: 3, stepCount: 50)
    for (level, size) in [7, 5, 3, 1].enumerated() {
      let mask = shrinking.masks[level].values
      let radius = size / 2
      for i in 0..<9 {
        for j in 0..<9 {
          let nearCenter = abs(i - 4) <= radius && abs(j - 4) <= radius
          let nearCorner = i <= radius && abs(j - 8) <= radius
          #expect(mask[i, j] == (nearCenter || nearCorner ? 1 : 0), "size \(size) at \(i),\(j)")
        }
      }
    }
  }

  @Test func nearestUsesThePILRuleAndThreshold() {
    var pixels = Tensor(shape: [10, 10])
    for i in 0..<10 { for j in 0..<10 { pixels[i, j] = Float(i * 10 + j) / 100 } }
    let mask = LatentMask(pixelMask: pixels, height: 3, width: 3)
    let sampled = [1, 5, 8]  // floor((i + 0.5) · 10 / 3)
    for (i, row) in sampled.enumerated() {
      for (j, column) in sampled.enumerated() {
        #expect(mask.values[i, j] == (pixels[row, column] >= 0.5 ? 1 : 0))
      }
    }
    let half = LatentMask(pixelMask: Tensor(shape: [8, 8], repeating: 0.5), height: 1, width: 1)
    #expect(half.values[0, 0] == 1)
    let below = LatentMask(pixelMask: Tensor(shape: [8, 8], repeating: 0.49), height: 1, width: 1)
    #expect(below.isEmpty)
  }

  @Test func maxPoolKeepsThinStrokes() {
    var pixels = Tensor(shape: [16, 16])
    for i in 0..<16 { pixels[i, 3] = 1 }
    #expect(LatentMask(pixelMask: pixels, height: 2, width: 2, mode: .nearest).isEmpty)
    let pooled = LatentMask(pixelMask: pixels, height: 2, width: 2, mode: .maxPool)
    #expect(pooled.values == Tensor(shape: [2, 2], scalars: [1, 0, 1, 0]))
    #expect(pooled.onCount == 2)
  }

  @Test func blendTakesEachElementFromOneSide() {
    let mask = LatentMask(values: Tensor(shape: [1, 2], scalars: [1, 0]))
    let edited = Tensor(shape: [1, 2, 1, 2], scalars: [1, 2, 3, 4])
    let background = Tensor(shape: [1, 2, 1, 2], scalars: [10, 20, 30, 40])
    #expect(
      mask.blend(edited: edited, background: background) == Tensor(shape: [1, 2, 1, 2], scalars: [1, 20, 3, 40]))
  }
}
