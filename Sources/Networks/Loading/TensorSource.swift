import TensorCore

/// Where one parameter's values are in an opened checkpoint: a tensor of a file, or a view of one.
///
/// Folder checkpoints name every parameter as the layers do, so each source is a whole tensor. Single-file (LDM)
/// checkpoints store some parameters differently: OpenCLIP fuses a layer's query, key and value projections into
/// one `in_proj_weight` (each is a third of its rows, still read straight from the file), the VAE's attention
/// keeps 1×1-convolution weights `[O, I, 1, 1]` where the layer has a linear `[O, I]` (the same bytes), and
/// OpenCLIP stores `text_projection` transposed.
public struct TensorSource: Sendable {
  /// How the stored tensor becomes the parameter.
  public enum View: Sendable, Equatable {
    /// The tensor as stored.
    case whole
    /// Rows of the first dimension (same bytes; stays memory-mapped).
    case rows(Range<Int>)
    /// The stored bytes under the parameter's shape, which must have as many elements (same bytes).
    case reshaped
    /// The transpose of a two-dimensional tensor (read into memory).
    case transposed
  }

  /// The file holding the tensor.
  public let file: SafetensorsFile
  /// The tensor's key in the file.
  public let key: String
  /// How it becomes the parameter.
  public let view: View

  /// A source for one parameter.
  public init(file: SafetensorsFile, key: String, view: View = .whole) {
    self.file = file
    self.key = key
    self.view = view
  }

  /// The file's entry as the parameter sees it, with the parameter's shape for `.reshaped`.
  /// - Returns: `nil` if the view does not fit the stored tensor (rows outside it, a transpose of a tensor that is
  ///   not two-dimensional, a reshape to another element count).
  func entry(parameterShape: [Int]) -> SafetensorsFile.Entry? {
    guard let stored = file.entries[key] else { return nil }
    switch view {
    case .whole: return stored
    case .rows(let range):
      guard !stored.shape.isEmpty, range.lowerBound >= 0, range.upperBound <= stored.shape[0] else { return nil }
      return stored.rows(range)
    case .reshaped:
      guard parameterShape.reduce(1, *) == stored.shape.reduce(1, *) else { return nil }
      return stored.reshaped(parameterShape)
    case .transposed:
      guard stored.shape.count == 2 else { return nil }
      return stored.reshaped([stored.shape[1], stored.shape[0]])
    }
  }

  /// Reads the parameter's values as `residency` says (a transpose is always read into memory as float32).
  func storedTensor(_ entry: SafetensorsFile.Entry, residency: WeightResidency) throws -> StoredTensor {
    guard view == .transposed else { return try file.storedTensor(entry, named: key, residency: residency) }
    return StoredTensor(try file.tensor(named: key).transposedLastTwo())
  }
}
