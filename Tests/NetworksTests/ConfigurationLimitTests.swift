import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// Configuration numbers are checked against sane limits before anything is allocated (issue 16, findings 1
/// and 8): each hostile value is a `ConfigurationError` naming the file and the field, in plain words.
@Suite("Configuration limits and plain decoding messages")
struct ConfigurationLimitTests {
  func editJSON(_ url: URL, _ edit: (inout [String: Any]) -> Void) throws {
    var object = try #require(
      JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    edit(&object)
    try JSONSerialization.data(withJSONObject: object).write(to: url)
  }

  /// Loads `directory` expecting a configuration error for `field` of `file`; returns the message.
  @discardableResult
  func expectInvalid(
    _ directory: ModelDirectory, file: URL, field: String, sourceLocation: SourceLocation = #_sourceLocation
  ) -> String {
    do {
      _ = try StableDiffusionModel(directory: directory)
      Issue.record("the folder loaded", sourceLocation: sourceLocation)
      return ""
    } catch {
      #expect(error.field == field, "\(error)", sourceLocation: sourceLocation)
      #expect(error.file == file.path, "\(error)", sourceLocation: sourceLocation)
      let text = error.description
      #expect(!text.contains("\n"), sourceLocation: sourceLocation)
      for leak in ["DecodingError", "NSCocoaErrorDomain", "Dictionary<", "CodingKeys", "debugDescription"] {
        #expect(!text.contains(leak), "\(text)", sourceLocation: sourceLocation)
      }
      return text
    }
  }

  @Test(
    "UNet numbers outside their limits are refused at decode time",
    .timeLimit(.minutes(1)),
    arguments: [
      ("sample_size", -1), ("sample_size", 0), ("sample_size", 100_000), ("layers_per_block", 1_000_000_000),
      ("in_channels", 0), ("cross_attention_dim", 1 << 40),
    ])
  func unetLimits(field: String, value: Int) throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.unetConfiguration) { $0[field] = value }
    let message = expectInvalid(directory, file: directory.unetConfiguration, field: field)
    #expect(message.contains("\(value) is outside"), "\(message)")
  }

  @Test("num_hidden_layers 10⁹ in the text encoder is refused at once", .timeLimit(.minutes(1)))
  func textEncoderLayers() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.textEncoderConfiguration) { $0["num_hidden_layers"] = 1_000_000_000 }
    expectInvalid(directory, file: directory.textEncoderConfiguration, field: "num_hidden_layers")
  }

  @Test("latent_channels 0 names latent_channels, not layers_per_block")
  func latentChannelsZero() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.vaeConfiguration) { $0["latent_channels"] = 0 }
    expectInvalid(directory, file: directory.vaeConfiguration, field: "latent_channels")
  }

  @Test("a fraction where an integer belongs names the field, not 'not valid JSON'")
  func fractionForInteger() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.unetConfiguration) { $0["layers_per_block"] = 1.5 }
    let message = expectInvalid(directory, file: directory.unetConfiguration, field: "layers_per_block")
    #expect(!message.contains("not valid JSON"), "\(message)")
  }

  @Test("a string where a number belongs says what was expected")
  func stringForNumber() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try editJSON(directory.vaeConfiguration) { $0["in_channels"] = "three" }
    let message = expectInvalid(directory, file: directory.vaeConfiguration, field: "in_channels")
    #expect(message.hasSuffix("invalid 'in_channels': expected an integer"), "\(message)")
  }

  @Test("a configuration that is a JSON list, or a FIFO, gives a plain reason", .timeLimit(.minutes(1)))
  func notAnObjectOrNotAFile() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    try Data("[1, 2]".utf8).write(to: directory.unetConfiguration)
    #expect(
      throws: ConfigurationError.unreadable(
        file: directory.unetConfiguration.path, reason: "the file is not a JSON object")
    ) {
      try UNetConfiguration.decode(contentsOf: directory.unetConfiguration)
    }
    try FileManager.default.removeItem(at: directory.unetConfiguration)
    #expect(mkfifo(directory.unetConfiguration.path, 0o600) == 0)
    #expect(
      throws: ConfigurationError.unreadable(
        file: directory.unetConfiguration.path, reason: "it is a FIFO (named pipe), not a regular file")
    ) { try UNetConfiguration.decode(contentsOf: directory.unetConfiguration) }
  }

  @Test("a FIFO in place of a weight file is an error, not a hang", .timeLimit(.minutes(1)))
  func fifoWeights() throws {
    let directory = try NetworkFixture("sd2-tiny").temporaryCopy()
    defer { try? FileManager.default.removeItem(at: directory.root) }
    let weights = try #require(
      FileManager.default.contentsOfDirectory(at: directory.unetDirectory, includingPropertiesForKeys: nil)
        .first { $0.pathExtension == "safetensors" })
    try FileManager.default.removeItem(at: weights)
    #expect(mkfifo(weights.path, 0o600) == 0)
    do {
      _ = try StableDiffusionModel(directory: directory)
      Issue.record("the folder loaded")
    } catch {
      #expect(error.description.contains("FIFO"), "\(error)")
      #expect(error.description.components(separatedBy: weights.path).count == 2, "path once: \(error)")
    }
  }
}
