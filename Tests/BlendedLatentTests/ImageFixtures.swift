import Foundation

/// Locates the image fixtures written by Tests/Reference/make_image_fixtures.py.
enum ImageFixtures {
  static var directory: URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("images")
  }

  static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

  struct Expected: Decodable {
    let width: Int
    let height: Int
    let depth: Int
    let rgb: [Int]
    let alpha: [Int]?
    let luminance: [Int]?
  }

  static func expected() throws -> [String: Expected] {
    try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: url("expected.json")))
  }
}
