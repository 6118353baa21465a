import Foundation
import TensorCore

/// The fields of a diffusers `scheduler_config.json` that this package's schedulers read.
///
/// Property names are the camelCase forms of the JSON keys (decoded with `.convertFromSnakeCase`);
/// unknown keys (`_class_name`, `skip_prk_steps`, …) are ignored. Every field is optional because a Stable
/// Diffusion checkpoint ships the config of *one* scheduler class (often `PNDMScheduler`) and diffusers
/// fills the keys it lacks with the defaults of the class it builds (`DDIMScheduler.from_config(...)`);
/// each scheduler here resolves missing fields to its own diffusers class defaults.
public struct SchedulerConfiguration: Codable, Sendable, Equatable {
  /// `_class_name`: the diffusers scheduler class the configuration was saved from (e.g. `EulerDiscreteScheduler`),
  /// read by ``decode(_:file:)``.
  public var className: String?
  /// `num_train_timesteps` (default 1000).
  public var numTrainTimesteps: Int?
  /// `beta_start` (default 0.0001).
  public var betaStart: Double?
  /// `beta_end` (default 0.02).
  public var betaEnd: Double?
  /// `beta_schedule`: `linear` (default) or `scaled_linear` (Stable Diffusion); others are unsupported.
  public var betaSchedule: String?
  /// `trained_betas`: explicit betas, used instead of `beta_schedule` when present.
  public var trainedBetas: [Double]?
  /// `prediction_type`: `epsilon` (default) or `v_prediction`.
  public var predictionType: String?
  /// `steps_offset` (default 0), added to `leading` timesteps.
  public var stepsOffset: Int?
  /// `timestep_spacing`: `leading`, `trailing` or `linspace` (default per scheduler class).
  public var timestepSpacing: String?
  /// `set_alpha_to_one` (DDIM; default true): the level after the last step is ᾱ = 1 instead of ᾱ₀.
  public var setAlphaToOne: Bool?
  /// `clip_sample` (DDIM; default true): clamp the predicted original sample.
  public var clipSample: Bool?
  /// `clip_sample_range` (DDIM; default 1).
  public var clipSampleRange: Double?
  /// `thresholding` (default false); dynamic thresholding is not supported.
  public var thresholding: Bool?
  /// `rescale_betas_zero_snr` (default false); not supported.
  public var rescaleBetasZeroSnr: Bool?
  /// `use_karras_sigmas` (DPM-Solver, Euler; default false).
  public var useKarrasSigmas: Bool?
  /// `use_exponential_sigmas`, `use_beta_sigmas`, `use_lu_lambdas`, `use_flow_sigmas`: not supported.
  public var useExponentialSigmas: Bool?
  /// See ``useExponentialSigmas``.
  public var useBetaSigmas: Bool?
  /// See ``useExponentialSigmas``.
  public var useLuLambdas: Bool?
  /// See ``useExponentialSigmas``.
  public var useFlowSigmas: Bool?
  /// `final_sigmas_type`: `zero` (default) or `sigma_min` (DPM-Solver, Euler).
  public var finalSigmasType: String?
  /// `solver_order` (DPM-Solver; default 2). Orders 1 and 2 are supported.
  public var solverOrder: Int?
  /// `algorithm_type` (DPM-Solver; default `dpmsolver++`, the only one supported).
  public var algorithmType: String?
  /// `solver_type` (DPM-Solver; `midpoint` (default) or `heun`).
  public var solverType: String?
  /// `lower_order_final` (DPM-Solver; default true).
  public var lowerOrderFinal: Bool?
  /// `euler_at_final` (DPM-Solver; default false).
  public var eulerAtFinal: Bool?
  /// `lambda_min_clipped` (DPM-Solver; default −∞); only the default is supported.
  public var lambdaMinClipped: Double?
  /// `interpolation_type` (Euler; `linear` (default) or `log_linear`).
  public var interpolationType: String?
  /// `timestep_type` (Euler; `discrete` (default); `continuous` is not supported).
  public var timestepType: String?
  /// `sigma_min` (Karras sigmas; default: the schedule's smallest sigma).
  public var sigmaMin: Double?
  /// `sigma_max` (Karras sigmas; default: the schedule's largest sigma).
  public var sigmaMax: Double?
  /// `original_inference_steps` (LCM; default 50): the distillation schedule's length.
  public var originalInferenceSteps: Int?
  /// `timestep_scaling` (LCM; default 10): the factor on t in the boundary-condition scalings.
  public var timestepScaling: Double?

  /// Creates a configuration; every field left `nil` takes the building scheduler's diffusers default.
  public init(
    numTrainTimesteps: Int? = nil, betaStart: Double? = nil, betaEnd: Double? = nil, betaSchedule: String? = nil,
    trainedBetas: [Double]? = nil, predictionType: String? = nil, stepsOffset: Int? = nil,
    timestepSpacing: String? = nil, setAlphaToOne: Bool? = nil, clipSample: Bool? = nil,
    clipSampleRange: Double? = nil, useKarrasSigmas: Bool? = nil, finalSigmasType: String? = nil,
    solverOrder: Int? = nil, solverType: String? = nil, lowerOrderFinal: Bool? = nil
  ) {
    self.numTrainTimesteps = numTrainTimesteps
    self.betaStart = betaStart
    self.betaEnd = betaEnd
    self.betaSchedule = betaSchedule
    self.trainedBetas = trainedBetas
    self.predictionType = predictionType
    self.stepsOffset = stepsOffset
    self.timestepSpacing = timestepSpacing
    self.setAlphaToOne = setAlphaToOne
    self.clipSample = clipSample
    self.clipSampleRange = clipSampleRange
    self.useKarrasSigmas = useKarrasSigmas
    self.finalSigmasType = finalSigmasType
    self.solverOrder = solverOrder
    self.solverType = solverType
    self.lowerOrderFinal = lowerOrderFinal
  }

  /// Stable Diffusion 1.x/2.x's schedule: 1000 steps, `scaled_linear` betas 0.00085…0.012, `steps_offset` 1,
  /// `set_alpha_to_one` false, `clip_sample` false (as in the `stabilityai/stable-diffusion-2-1-base` config).
  public static let stableDiffusion = SchedulerConfiguration(
    numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012, betaSchedule: "scaled_linear",
    predictionType: "epsilon", stepsOffset: 1, setAlphaToOne: false, clipSample: false)

  /// Decodes a diffusers `scheduler_config.json`.
  /// - Parameter url: The file.
  /// - Returns: The configuration.
  /// - Throws: ``SchedulerError/unreadableConfiguration(file:reason:)`` if the file is missing or not valid JSON
  ///   of the expected types.
  public static func decode(contentsOf url: URL) throws(SchedulerError) -> SchedulerConfiguration {
    let data: Data
    do { data = try RegularFile.read(url) } catch {
      throw .unreadableConfiguration(file: url.path, reason: error.reason)
    }
    return try decode(data, file: url.path)
  }

  /// Decodes a diffusers scheduler configuration from JSON data.
  /// - Parameters:
  ///   - data: The JSON.
  ///   - file: A name used in errors.
  /// - Throws: ``SchedulerError/unreadableConfiguration(file:reason:)``.
  public static func decode(_ data: Data, file: String = "scheduler_config.json") throws(SchedulerError)
    -> SchedulerConfiguration
  {
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    do {
      var configuration = try decoder.decode(SchedulerConfiguration.self, from: data)
      // `_class_name` keeps its leading underscore through the snake-case conversion; it is read on its own.
      let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
      configuration.className = object?["_class_name"] as? String
      return configuration
    } catch let error as DecodingError {
      throw .unreadableConfiguration(file: file, reason: reason(error))
    } catch {
      throw .unreadableConfiguration(file: file, reason: "not valid JSON")
    }
  }
}

extension SchedulerConfiguration {
  /// A decoding failure in plain words naming the field (no Foundation error names).
  static func reason(_ error: DecodingError) -> String {
    func field(_ context: DecodingError.Context) -> String {
      context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, _): return "required field '\(key.stringValue)' is missing"
    case .typeMismatch(_, let context) where context.codingPath.isEmpty: return "the file is not a JSON object"
    case .typeMismatch(_, let context), .valueNotFound(_, let context):
      return "field '\(field(context))' has a value of the wrong type"
    case .dataCorrupted(let context) where context.codingPath.isEmpty: return "not valid JSON"
    case .dataCorrupted(let context): return "field '\(field(context))' has an invalid value"
    @unknown default: return "not a valid scheduler configuration"
    }
  }
}
