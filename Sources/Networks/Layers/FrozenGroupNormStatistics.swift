import TensorCore

/// Group-norm statistics that a training step holds constant, by norm layer.
///
/// Decoder fine-tuning on a crop records the statistics every trained norm has on the whole image (with the
/// pretrained weights) and normalises the crop with them, so the untrained crop decodes as the whole image does;
/// no gradient flows through frozen statistics. Norms without an entry use their input's own statistics.
public struct FrozenGroupNormStatistics {
  private var values: [ObjectIdentifier: GroupNormStatistics] = [:]

  /// No frozen statistics: every norm uses its input's.
  public init() {}

  /// The number of norms with frozen statistics.
  public var count: Int { values.count }

  /// The frozen statistics of `norm`, or nil when it uses its input's own.
  public subscript(_ norm: GroupNorm) -> GroupNormStatistics? {
    get { values[ObjectIdentifier(norm)] }
    set { values[ObjectIdentifier(norm)] = newValue }
  }
}
