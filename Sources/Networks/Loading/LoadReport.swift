/// What `WeightLoader.load` did, for diagnostics (the CLI prints it; the library never does).
public struct LoadReport: Sendable, Equatable {
  /// The weight files read.
  public var files: [String]
  /// Parameters loaded.
  public var tensorCount: Int
  /// Scalars loaded.
  public var scalarCount: Int
  /// Bytes of tensor data read from disk (before conversion to float32).
  public var byteCount: Int
  /// Allow-listed tensors present in the files and skipped.
  public var skippedKeys: [String]
  /// Wall-clock seconds spent.
  public var seconds: Double

  /// Read throughput in bytes per second.
  public var bytesPerSecond: Double { seconds > 0 ? Double(byteCount) / seconds : 0 }
}
