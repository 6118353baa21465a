import Foundation

/// The training noise schedule: betas and the cumulative products ᾱ_t = ∏_{s ≤ t} (1 − β_s).
///
/// Matches: diffusers' float32 tables. Betas come from `torch.linspace(..., dtype=float32)` (`linear`) or its
/// square over `√beta_start … √beta_end` (`scaled_linear`), computed in float32 with torch's scalar linspace
/// formula (first half `start + step·i`, second half `end − step·(n − 1 − i)`); ᾱ accumulates in double and is
/// stored as float32, as torch's CPU `cumprod` does.
/// Limitations: `squaredcos_cap_v2` and `rescale_betas_zero_snr` are not implemented (typed error). torch's
/// vectorised linspace can round a beta differently in the last bit; the effect on ᾱ is below 1e-7 relative.
public struct NoiseSchedule: Sendable, Equatable {
  /// β_t for t in `0 ..< trainStepCount`.
  public let betas: [Float]
  /// ᾱ_t = ∏_{s ≤ t} (1 − β_s) for t in `0 ..< trainStepCount`.
  public let alphasCumprod: [Float]

  /// The number of training timesteps (`num_train_timesteps`).
  public var trainStepCount: Int { betas.count }

  /// Builds the schedule from a diffusers configuration.
  /// - Parameters:
  ///   - configuration: The scheduler configuration; missing fields take diffusers' defaults (1000 steps,
  ///     `linear`, 0.0001…0.02).
  ///   - scheduler: The scheduler class name used in errors.
  /// - Throws: ``SchedulerError`` for an unsupported `beta_schedule` or invalid numbers.
  public init(configuration: SchedulerConfiguration, scheduler: String = "NoiseSchedule") throws(SchedulerError) {
    if configuration.rescaleBetasZeroSnr == true {
      throw .unsupported(field: "rescale_betas_zero_snr", value: "true", scheduler: scheduler)
    }
    let count = configuration.numTrainTimesteps ?? 1000
    guard count >= 2 else {
      throw .invalid(field: "num_train_timesteps", value: "\(count)", reason: "need at least 2")
    }
    var betas: [Float]
    if let trained = configuration.trainedBetas {
      guard trained.count == count else {
        throw .invalid(field: "trained_betas", value: "\(trained.count) values", reason: "need \(count)")
      }
      betas = trained.map { Float($0) }
    } else {
      let start = configuration.betaStart ?? 0.0001
      let end = configuration.betaEnd ?? 0.02
      switch configuration.betaSchedule ?? "linear" {
      case "linear":
        betas = Self.linspace(Float(start), Float(end), count: count)
      case "scaled_linear":
        betas = Self.linspace(Float(start.squareRoot()), Float(end.squareRoot()), count: count).map { $0 * $0 }
      case let other:
        throw .unsupported(field: "beta_schedule", value: other, scheduler: scheduler)
      }
    }
    guard betas.allSatisfy({ $0 > 0 && $0 < 1 }) else {
      throw .invalid(
        field: "betas", value: "[\(betas.first ?? 0) … \(betas.last ?? 0)]", reason: "each must lie in (0, 1)")
    }
    self.betas = betas
    var product = 1.0
    alphasCumprod = betas.map { beta in
      product *= Double(1 - beta)
      return Float(product)
    }
  }

  /// torch's scalar CPU `linspace` in float32.
  static func linspace(_ start: Float, _ end: Float, count: Int) -> [Float] {
    let step = (end - start) / Float(count - 1)
    let half = count / 2
    return (0..<count).map { i in i < half ? start + step * Float(i) : end - step * Float(count - 1 - i) }
  }

  /// σ_t = √((1 − ᾱ_t) / ᾱ_t) in float32, for every training timestep (the k-diffusion noise scale).
  public var sigmas: [Float] { alphasCumprod.map { ((1 - $0) / $0).squareRoot() } }
}
