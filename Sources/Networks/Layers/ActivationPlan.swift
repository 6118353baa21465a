import TensorCore

/// Which blocks of a training step keep their forward activations for the backward pass and which drop them
/// and recompute them from their input (checkpointing), chosen from the shapes alone before anything runs.
///
/// Every block's input is stored either way (it is the previous block's output). Keeping a block's activations
/// costs its extra tensors (a resnet's `conv1` output, the attention's tokens, Q, K, V and result) and saves their
/// recomputation. When everything fits `budgetBytes`, everything is kept; otherwise blocks are kept in order of
/// recomputation FLOPs saved per byte (the deep, wide blocks first) while they fit. Then, with what the budget
/// has left, kept blocks also keep their convolutions' activated inputs (the SiLU outputs, which the backward
/// pass would otherwise recompute element-wise), in forward order while they fit: they save the least work per
/// byte, so they come last.
public struct ActivationPlan: Equatable, Sendable {
  /// For each block, in order: whether its activations are kept.
  public let keeps: [Bool]
  /// For each block, in order: whether it also keeps its convolutions' activated inputs (only kept blocks do).
  public let keepsActivatedInputs: [Bool]
  /// The estimated bytes of stored activations: the inputs of all blocks, the output, the kept activations and
  /// the kept activated inputs.
  public let storedBytes: Int
  /// The estimated bytes with every block's activations and activated inputs kept.
  public let bytesKeepingAll: Int

  /// The number of blocks whose activations are recomputed.
  public var recomputedCount: Int { keeps.count { !$0 } }

  /// Plans `blocks` for an input of shape `inputShape` (`[N, C, h, w]` of the first of them).
  /// - Parameters:
  ///   - blocks: the blocks of the training step, in forward order.
  ///   - inputShape: the shape of the first block's input.
  ///   - budgetBytes: the most bytes of activations to keep.
  public init(blocks: [any DifferentiableBlock], inputShape: [Int], budgetBytes: Int) {
    var shape = inputShape
    var inputFloats = 0
    var costs: [(floats: Int, recomputeFLOPs: Double)] = []
    var activatedFloats: [Int] = []
    for block in blocks {
      inputFloats += shape.reduce(1, *)
      costs.append(block.activationCost(forInput: shape))
      activatedFloats.append(block.activatedInputFloats(forInput: shape))
      shape = block.outputShape(forInput: shape)
    }
    inputFloats += shape.reduce(1, *)  // the output, held until its gradient is known
    let bytesPerFloat = MemoryLayout<Float>.size
    var stored = inputFloats * bytesPerFloat
    var keeps = costs.map { $0.floats == 0 }  // nothing to store: nothing to decide
    let candidates = costs.indices.filter { costs[$0].floats > 0 }
      .sorted {
        costs[$0].recomputeFLOPs / Double(costs[$0].floats) > costs[$1].recomputeFLOPs / Double(costs[$1].floats)
      }
    for index in candidates where stored + costs[index].floats * bytesPerFloat <= budgetBytes {
      keeps[index] = true
      stored += costs[index].floats * bytesPerFloat
    }
    var keepsActivatedInputs = [Bool](repeating: false, count: blocks.count)
    for index in blocks.indices
    where keeps[index] && activatedFloats[index] > 0 && stored + activatedFloats[index] * bytesPerFloat <= budgetBytes {
      keepsActivatedInputs[index] = true
      stored += activatedFloats[index] * bytesPerFloat
    }
    self.keeps = keeps
    self.keepsActivatedInputs = keepsActivatedInputs
    self.storedBytes = stored
    self.bytesKeepingAll =
      (inputFloats + costs.reduce(0) { $0 + $1.floats } + activatedFloats.reduce(0, +)) * bytesPerFloat
  }
}
