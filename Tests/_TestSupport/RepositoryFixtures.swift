import Foundation

/// Fixture folders addressed by their path in the repository, so one test target can read another's
/// committed fixtures (e.g. the tiny diffusers folders of `NetworksTests`) without copying them.
public enum RepositoryFixtures {
  /// The repository's `Tests/` folder.
  public static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()

  /// `Tests/<target>/Fixtures/<name>`.
  public static func url(target: String, _ name: String) -> URL {
    testsDirectory.appendingPathComponent(target).appendingPathComponent("Fixtures").appendingPathComponent(name)
  }

  /// The tiny diffusers model folder `Tests/NetworksTests/Fixtures/<name>/model` (`sd1-tiny`, `sd2-tiny`).
  public static func tinyModel(_ name: String) -> URL {
    url(target: "NetworksTests", name).appendingPathComponent("model")
  }

  /// An end-to-end reference case, `Tests/BlendedLatentTests/Fixtures/e2e-<name>`.
  public static func endToEndCase(_ name: String) -> URL { url(target: "BlendedLatentTests", "e2e-\(name)") }
}

/// The settings of an end-to-end reference case (`case.json` written by
/// `Tests/Reference/make_end_to_end_fixtures.py`).
public struct EndToEndCase: Decodable, Sendable {
  /// The tiny model folder's name under `NetworksTests/Fixtures`.
  public var model: String
  /// The diffusers scheduler class name.
  public var scheduler: String
  /// Inference steps before strength.
  public var steps: Int
  /// img2img strength.
  public var strength: Double
  /// Classifier-free guidance scale.
  public var guidance: Float
  /// Results per request.
  public var batch: Int
  /// The torch generator seed.
  public var seed: UInt64
  /// DDIM η.
  public var eta: Double
  /// `nearest` or `maxPool`.
  public var maskMode: String
  /// Progressive mask shrinking levels.
  public var shrinkLevels: Int
  /// The prompt.
  public var prompt: String
  /// The negative prompt.
  public var negativePrompt: String

  enum CodingKeys: String, CodingKey {
    case model, scheduler, steps, strength, guidance, batch, seed, eta, prompt
    case maskMode = "mask_mode"
    case shrinkLevels = "shrink_levels"
    case negativePrompt = "negative_prompt"
  }

  /// Reads `case.json` of the named case.
  public static func load(_ name: String) throws -> EndToEndCase {
    try JSONDecoder().decode(
      EndToEndCase.self,
      from: Data(contentsOf: RepositoryFixtures.endToEndCase(name).appendingPathComponent("case.json")))
  }

  /// The command-line scheduler name (`bld --scheduler`).
  public var schedulerName: String {
    switch scheduler {
    case "DPMSolverMultistepScheduler": "dpm++2m"
    case "EulerDiscreteScheduler": "euler"
    case "EulerAncestralDiscreteScheduler": "euler-a"
    case "LCMScheduler": "lcm"
    default: "ddim"
    }
  }
}
