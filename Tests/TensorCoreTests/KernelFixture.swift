import Foundation
import TensorCore

/// One case of `Fixtures/kernels/<group>.json`, written by `Tests/Reference/make_kernel_fixtures.py`.
struct KernelFixture: Decodable {
  /// A tensor as stored in the fixture: shape plus row-major values.
  struct StoredTensor: Decodable {
    let shape: [Int]
    let data: [Double]
    var tensor: Tensor { Tensor(shape: shape, scalars: data.map { Float($0) }) }
  }

  /// A scalar, flag or integer list parameter of the case.
  enum Parameter: Decodable {
    case bool(Bool)
    case number(Double)
    case list([Int])

    init(from decoder: any Decoder) throws {
      let container = try decoder.singleValueContainer()
      if let flag = try? container.decode(Bool.self) {
        self = .bool(flag)
      } else if let number = try? container.decode(Double.self) {
        self = .number(number)
      } else {
        self = .list(try container.decode([Int].self))
      }
    }
  }

  let inputs: [String: StoredTensor]
  let parameters: [String: Parameter]
  let expected: StoredTensor

  /// The input tensor `name`, or nil when the case does not have it (an optional bias).
  func input(_ name: String) -> Tensor? { inputs[name]?.tensor }
  /// The expected output.
  var expectedTensor: Tensor { expected.tensor }

  func int(_ name: String) -> Int {
    if case .number(let value) = parameters[name] { return Int(value) }
    return 0
  }
  func double(_ name: String) -> Double {
    if case .number(let value) = parameters[name] { return value }
    return 0
  }
  func bool(_ name: String) -> Bool {
    if case .bool(let value) = parameters[name] { return value }
    return false
  }
  func list(_ name: String) -> [Int] {
    if case .list(let value) = parameters[name] { return value }
    return []
  }

  /// Every case of `Fixtures/kernels/<group>.json`, sorted by name.
  static func load(_ group: String) throws -> [(name: String, fixture: KernelFixture)] {
    guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
      throw FixtureError.missingFixtures
    }
    let url = root.appendingPathComponent("kernels").appendingPathComponent(group + ".json")
    let cases = try JSONDecoder().decode([String: KernelFixture].self, from: Data(contentsOf: url))
    return cases.sorted { $0.key < $1.key }.map { (name: $0.key, fixture: $0.value) }
  }
}

enum FixtureError: Error {
  case missingFixtures
}
