import TensorCore

/// One named benchmark: what it computes, how much work one run is, and how to prepare it.
///
/// `prepare` allocates the inputs (counted in the case's peak RSS) and returns the closure that is timed;
/// that closure must discard its result so successive runs do not hold two outputs at once.
struct BenchmarkCase {
  /// The exact name printed in the `case` field and matched by `--filter`.
  let name: String
  /// Floating-point operations of one run (multiply and add counted separately), or nil when not meaningful.
  let flops: Double?
  /// Whether the case is dominated by GEMM, so it also reports `fraction_of_sgemm_peak`.
  let isGEMMBacked: Bool
  /// Extra fixed fields printed with the result (memory bounds, shapes).
  let extraFields: [String: JSONValue]
  /// Whether one untimed run precedes the timed ones (false for `edit-512`, whose first run already
  /// includes every allocation pattern and takes minutes).
  let warmUp: Bool
  /// Extra fields read after the timed runs (for example the phase breakdown of an edit).
  let dynamicFields: () -> [String: JSONValue]
  /// Whether the case runs only when `--filter` names it (cases of minutes, such as the decoder fine-tunes),
  /// so a plain `bld-bench` stays a quick kernel run.
  let runsOnlyWhenNamed: Bool
  /// Builds the inputs and returns the timed body.
  let prepare: () throws -> () -> Void

  init(
    name: String, flops: Double?, isGEMMBacked: Bool, extraFields: [String: JSONValue] = [:],
    warmUp: Bool = true, dynamicFields: @escaping () -> [String: JSONValue] = { [:] }, runsOnlyWhenNamed: Bool = false,
    prepare: @escaping () throws -> () -> Void
  ) {
    self.name = name
    self.flops = flops
    self.isGEMMBacked = isGEMMBacked
    self.extraFields = extraFields
    self.warmUp = warmUp
    self.dynamicFields = dynamicFields
    self.runsOnlyWhenNamed = runsOnlyWhenNamed
    self.prepare = prepare
  }
}

/// The ordered list of all cases. Model-level cases (`--model DIR`: text-encoder, unet-b2-64, …) come from
/// `ModelCases`; `BenchmarkContext` carries the options they need.
enum BenchmarkRegistry {
  /// The name of the case whose throughput defines `fraction_of_sgemm_peak`.
  static let sgemmPeakCase = "sgemm-2048"

  /// Every case, in the order they run.
  static func allCases(context: BenchmarkContext) -> [BenchmarkCase] {
    KernelCases.all() + ModelCases.all(context: context) + FineTuneCases.all(context: context)
  }
}

/// Options that cases may depend on.
struct BenchmarkContext {
  /// The model directory given with `--model`, if any.
  var modelDirectory: String?
  /// Where the model cases keep their weights (`--weights`).
  var residency: WeightResidency
  /// Iterations of each fine-tune case's timed call (`--iterations`; 2 by default).
  var fineTuneIterations = FineTuneCases.defaultIterationCount
}

/// A deterministic pseudo-random tensor (uniform in −1…1) for benchmark inputs.
func benchmarkTensor(_ shape: [Int], seed: UInt64 = 1) -> Tensor {
  var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
  return Tensor(shape: shape) { buffer in
    for i in 0..<buffer.count {
      state ^= state << 13
      state ^= state >> 7
      state ^= state << 17
      buffer[i] = Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) * 1e-6
    }
  }
}
