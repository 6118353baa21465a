import TensorCore

/// Which segments of a training step keep their forward activations for the backward pass and which drop them
/// and recompute them from their input (checkpointing), chosen from the shapes alone before anything runs.
///
/// Every segment's input is stored either way (it is the previous segment's output). Keeping a segment's activations
/// costs its extra tensors (a resnet's `conv1` output, the attention's tokens, Q, K, V and result) and saves their
/// recomputation. When everything fits `budgetBytes`, everything is kept; otherwise segments are kept in order of
/// recomputation FLOPs saved per byte (the deep, wide blocks first) while they fit.
struct ActivationPlan: Equatable {
  /// For each trained segment, in order: whether its activations are kept.
  let keeps: [Bool]
  /// The estimated bytes of stored activations: the inputs of all trained segments, the output, and the kept
  /// activations.
  let storedBytes: Int
  /// The estimated bytes with every segment's activations kept.
  let bytesKeepingAll: Int

  /// The number of segments whose activations are recomputed.
  var recomputedCount: Int { keeps.count { !$0 } }

  /// Plans the segments `segments` for an input of shape `inputShape` (`[N, C, h, w]` of the first of them).
  init(segments: ArraySlice<DecoderSegment>, inputShape: [Int], _ p: ParameterLookup, budgetBytes: Int) {
    var shape = inputShape
    var inputFloats = 0
    var costs: [(floats: Int, recomputeFLOPs: Double)] = []
    for segment in segments {
      inputFloats += shape.reduce(1, *)
      costs.append(segment.activationCost(forInput: shape, p))
      shape = segment.outputShape(forInput: shape, p)
    }
    inputFloats += shape.reduce(1, *)  // the output, held until its gradient is known
    let bytesPerFloat = MemoryLayout<Float>.size
    var stored = inputFloats * bytesPerFloat
    var keeps = costs.map { $0.floats == 0 }  // nothing to store: nothing to decide
    let candidates = costs.indices.filter { costs[$0].floats > 0 }
      .sorted { costs[$0].recomputeFLOPs / Double(costs[$0].floats) > costs[$1].recomputeFLOPs / Double(costs[$1].floats) }
    for index in candidates where stored + costs[index].floats * bytesPerFloat <= budgetBytes {
      keeps[index] = true
      stored += costs[index].floats * bytesPerFloat
    }
    self.keeps = keeps
    self.storedBytes = stored
    self.bytesKeepingAll = (inputFloats + costs.reduce(0) { $0 + $1.floats }) * bytesPerFloat
  }
}
