import BlendedLatent
import Foundation
import TensorCore
import Testing
import _TestSupport

/// One diffusers run recorded by `Tests/Reference/make_scheduler_fixtures.py`.
struct SchedulerCase: Decodable, CustomStringConvertible, Sendable {
  let name: String
  let scheduler: String
  let config: JSONValue
  let steps: Int
  let beginIndex: Int
  let eta: Double
  /// LCM's `set_timesteps` strength (absent in older cases: 1).
  let strength: Double?
  let seed: UInt64?
  let shape: [Int]
  let original: [Float]
  let noise: [Float]
  let noised: [Float]
  let timesteps: [Double]
  let samples: [[Float]]
  let initNoiseSigma: Float
  let sigmas: [Float]?
  let alphasCumprod: [Float]?
  var description: String { name }

  static func all() throws -> [SchedulerCase] {
    struct File: Decodable { let cases: [SchedulerCase] }
    let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
      .appendingPathComponent("schedulers/cases.json")
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(File.self, from: Data(contentsOf: url)).cases
  }

  func makeScheduler() throws -> any Scheduler {
    let configuration = try SchedulerConfiguration.decode(JSONEncoder().encode(config))
    let kind: SchedulerKind =
      switch scheduler {
      case "DDIMScheduler": .ddim(eta: eta)
      case "DPMSolverMultistepScheduler": .dpmSolverMultistep
      case "EulerDiscreteScheduler": .eulerDiscrete
      case "LCMScheduler": .lcm
      default: .eulerAncestralDiscrete
      }
    return try kind.makeScheduler(configuration: configuration, stepCount: steps, strength: strength ?? 1)
  }
}

/// Any JSON value, so the fixture's raw `scheduler_config.json` content round-trips to the real decoder.
enum JSONValue: Codable, Sendable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])
  init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Double.self) {
      self = .number(value)
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([JSONValue].self) {
      self = .array(value)
    } else {
      self = .object(try container.decode([String: JSONValue].self))
    }
  }
  func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .null: try container.encodeNil()
    case .bool(let value): try container.encode(value)
    case .number(let value): try container.encode(value)
    case .string(let value): try container.encode(value)
    case .array(let value): try container.encode(value)
    case .object(let value): try container.encode(value)
    }
  }
}

/// A noise source that must never be drawn from (deterministic schedulers).
struct ForbiddenNoise: NoiseSource {
  mutating func normal(shape: [Int]) -> Tensor {
    Issue.record("a deterministic scheduler drew noise")
    return Tensor(shape: shape)
  }
}

@Suite("Schedulers match diffusers step for step")
struct SchedulerParityTests {
  static let cases = (try? SchedulerCase.all()) ?? []

  @Test func fixturesCoverEveryScheduler() throws {
    let all = try SchedulerCase.all()
    #expect(all.count >= 15)
    #expect(Set(all.map(\.name)).count == all.count, "case names are unique")
    let schedulers: Set<String> = [
      "DDIMScheduler", "DPMSolverMultistepScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler",
      "LCMScheduler",
    ]
    #expect(Set(all.map(\.scheduler)) == schedulers)
    // The SD 1.x/2.x DDIM case the editor's defaults use: 50 leading steps with steps_offset 1 (981 … 1).
    let sd = try #require(all.first { $0.name == "ddim-sd-leading-50" })
    #expect(sd.timesteps == stride(from: 981.0, through: 1, by: -20).map { $0 })
    for fixture in all {
      #expect(fixture.samples.count == fixture.timesteps.count - fixture.beginIndex, "\(fixture.name)")
    }
    // Few-step schedules: trailing spacing for DDIM and both Euler schedulers, LCM at 4 steps with strengths
    // 1 and 0.75 (its strength moves the 4 timesteps down instead of dropping steps).
    for name in ["ddim-sd-trailing-4", "euler-sd-trailing-4", "eulera-sd-trailing-6", "lcm-sd-4", "lcm-sd-4-s075"] {
      #expect(all.contains { $0.name == name }, "missing case \(name)")
    }
    #expect(all.first { $0.name == "lcm-sd-4" }?.timesteps == [999, 759, 499, 259])
    #expect(all.first { $0.name == "lcm-sd-4-s075" }?.timesteps == [739, 559, 379, 199])
  }

  @Test func lcmRunsEveryStepOfItsSchedule() throws {
    let scheduler = try SchedulerKind.lcm.makeScheduler(configuration: .stableDiffusion, stepCount: 4, strength: 0.75)
    #expect(scheduler.keptStepCount(strength: 0.75) == 4)
    let ddim = try SchedulerKind.ddim().makeScheduler(configuration: .stableDiffusion, stepCount: 4)
    #expect(ddim.keptStepCount(strength: 0.75) == 3)
    #expect(
      EditRequest(
        image: Tensor(shape: [3, 8, 8]), mask: Tensor(shape: [8, 8]), prompt: "", stepCount: 4,
        strength: 0.75, scheduler: .lcm
      ).keptStepCount == 4)
    // More steps than int(original_inference_steps × strength) is diffusers' ValueError.
    #expect(throws: SchedulerError.self) {
      try SchedulerKind.lcm.makeScheduler(configuration: .stableDiffusion, stepCount: 8, strength: 0.1)
    }
  }

  @Test(arguments: cases)
  func matchesDiffusers(_ fixture: SchedulerCase) throws {
    var scheduler = try fixture.makeScheduler()
    try #require(scheduler.timesteps.count == fixture.timesteps.count, "\(fixture.name)")
    for (actual, expected) in zip(scheduler.timesteps, fixture.timesteps) {
      #expect(abs(actual - expected) <= 1e-3, "\(fixture.name): timestep \(actual) vs \(expected)")
    }
    #expect(abs(scheduler.initNoiseSigma - fixture.initNoiseSigma) <= 1e-5 * max(1, fixture.initNoiseSigma))
    if let sigmas = fixture.sigmas {
      let actual: [Float] =
        (scheduler as? EulerDiscreteScheduler)?.sigmas ?? (scheduler as? EulerAncestralDiscreteScheduler)?.sigmas
        ?? (scheduler as? DPMSolverMultistepScheduler)?.sigmas ?? []
      let comparison = TensorComparison(
        Tensor(shape: [actual.count], scalars: actual), Tensor(shape: [sigmas.count], scalars: sigmas))
      #expect(comparison.isClose(relative: 1e-6), "\(fixture.name) sigmas: \(comparison)")
    }
    if let table = fixture.alphasCumprod {
      let actual = scheduler.schedule.alphasCumprod
      let comparison = TensorComparison(
        Tensor(shape: [actual.count], scalars: actual), Tensor(shape: [table.count], scalars: table))
      #expect(comparison.isClose(relative: 1e-7), "\(fixture.name) alphas_cumprod: \(comparison)")
    }
    let original = Tensor(shape: fixture.shape, scalars: fixture.original)
    let noise = Tensor(shape: fixture.shape, scalars: fixture.noise)
    var sample = scheduler.addNoise(to: original, noise: noise, level: .beforeStep(fixture.beginIndex))
    let noisedComparison = TensorComparison(sample, Tensor(shape: fixture.shape, scalars: fixture.noised))
    #expect(noisedComparison.isClose(relative: 1e-6), "\(fixture.name) add_noise: \(noisedComparison)")
    sample = Tensor(shape: fixture.shape, scalars: fixture.noised)
    var generator = TorchGenerator(seed: fixture.seed ?? 0)
    var forbidden = ForbiddenNoise()
    var worst: (index: Int, comparison: TensorComparison)?
    for (offset, expected) in fixture.samples.enumerated() {
      let index = fixture.beginIndex + offset
      let timestep = Float(scheduler.timesteps[index])
      let input = scheduler.scaleModelInput(sample, stepIndex: index)
      let output = input.map { 0.9 * tanh($0) + Float(0.001 * Double(timestep)) }
      if scheduler.drawsNoiseInStep {
        sample = scheduler.step(modelOutput: output, stepIndex: index, sample: sample, noise: &generator)
      } else {
        sample = scheduler.step(modelOutput: output, stepIndex: index, sample: sample, noise: &forbidden)
      }
      let comparison = TensorComparison(sample, Tensor(shape: fixture.shape, scalars: expected))
      if worst == nil || comparison.relativeError > worst!.comparison.relativeError { worst = (index, comparison) }
    }
    let (index, comparison) = try #require(worst)
    #expect(comparison.isClose(relative: 1e-5), "\(fixture.name) worst step \(index): \(comparison)")
  }
}
