/// A value diffusers stores either once for all blocks or once per block (e.g. `attention_head_dim`).
public enum PerBlock<Value: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
  /// One value for every block.
  case uniform(Value)
  /// One value per block, in down-block order.
  case perBlock([Value])

  /// Decodes either a single value or a list.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let value = try? container.decode(Value.self) {
      self = .uniform(value)
    } else {
      self = .perBlock(try container.decode([Value].self))
    }
  }

  /// Encodes the single value or the list.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .uniform(let value): try container.encode(value)
    case .perBlock(let values): try container.encode(values)
    }
  }

  /// The value for block `block` (for a list: its `block`-th element).
  /// - Precondition: for a list, `block` is a valid index (checked by configuration validation).
  public subscript(block: Int) -> Value {
    switch self {
    case .uniform(let value): value
    case .perBlock(let values): values[block]
    }
  }

  /// The values for `count` blocks.
  public func values(count: Int) -> [Value] {
    switch self {
    case .uniform(let value): Array(repeating: value, count: count)
    case .perBlock(let values): values
    }
  }

  /// Whether this is a list of a length other than `count`.
  /// Every value as written: the one uniform value, or each per-block value.
  var allValues: [Value] {
    switch self {
    case .uniform(let value): [value]
    case .perBlock(let values): values
    }
  }

  func hasWrongLength(_ count: Int) -> Bool {
    if case .perBlock(let values) = self { return values.count != count }
    return false
  }
}
