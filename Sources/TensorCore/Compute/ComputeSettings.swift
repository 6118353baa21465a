/// The compute settings of one piece of work — its thread count and matrix precision — applied as scoped values
/// (``ComputeOptions/withThreadCount(_:_:)``, ``ComputeOptions/withMatrixPrecision(_:_:)``), never process-wide.
///
/// An editor carries one; two editors in one process can run with different settings at the same time.
public struct ComputeSettings: Sendable, Equatable {
  /// Threads for TensorCore's loops and OpenBLAS products; `nil` means ``ComputeOptions/defaultThreadCount``
  /// (the CPUs this process may use, or `OMP_NUM_THREADS`).
  public var threadCount: Int?
  /// The arithmetic of the matrix products (default fp32, the parity path).
  public var matrixPrecision: GEMMPrecision

  /// Creates settings; the defaults are the process's CPUs and fp32.
  public init(threadCount: Int? = nil, matrixPrecision: GEMMPrecision = .float32) {
    self.threadCount = threadCount
    self.matrixPrecision = matrixPrecision
  }

  /// The thread count work under these settings uses.
  public var resolvedThreadCount: Int {
    threadCount.map { $0 >= 1 ? $0 : ComputeOptions.defaultThreadCount } ?? ComputeOptions.defaultThreadCount
  }

  /// Runs `body` under these settings (on the calling thread or task, and the workers it starts).
  public func applied<R>(_ body: () throws -> R) rethrows -> R {
    try ComputeOptions.withThreadCount(resolvedThreadCount) {
      try ComputeOptions.withMatrixPrecision(matrixPrecision, body)
    }
  }
}
