extension StoredTensor {
  /// This tensor with `update` added to every read (a LoRA applied on use); the stored values are kept as they
  /// are, so mapped weights stay mapped and only the update's factors are held in memory.
  /// - Parameter update: `up` `[shape[0], r]`, `down` `[r, K]` with `K` the product of the other axes.
  /// - Returns: a stored tensor with the same shape and base values and one more update.
  /// - Precondition: the update's factors fit this tensor's shape.
  public func adding(_ update: LowRankUpdate) -> StoredTensor {
    precondition(
      shape.count >= 2 && update.up.shape[0] == shape[0] && update.down.shape[1] == shape.dropFirst().reduce(1, *),
      "LowRankUpdate up \(update.up.shape), down \(update.down.shape) does not fit a weight of shape \(shape)")
    switch storage {
    case .lowRank(let base, let updates):
      return StoredTensor(shape: shape, storage: .lowRank(base: base, updates: updates + [update]))
    default:
      return StoredTensor(shape: shape, storage: .lowRank(base: storage, updates: [update]))
    }
  }

  /// The low-rank updates added on every read, in the order they were added (empty for plain storage).
  public var lowRankUpdates: [LowRankUpdate] {
    if case .lowRank(_, let updates) = storage { return updates }
    return []
  }

  /// This tensor without its low-rank updates: the stored values as they were before ``adding(_:)``.
  public var withoutLowRankUpdates: StoredTensor {
    if case .lowRank(let base, _) = storage { return StoredTensor(shape: shape, storage: base) }
    return self
  }
}
