import Foundation

/// Sigma-table helpers shared by the k-diffusion-style schedulers, reproducing diffusers' NumPy code.
enum SigmaSchedule {
  /// Karras et al. (2022) sigmas: `(σ_max^{1/ρ} + r (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ`, ρ = 7, r = linspace(0, 1, n).
  static func karras(sigmaMin: Double, sigmaMax: Double, count: Int) -> [Double] {
    let rho = 7.0
    let minInverse = pow(sigmaMin, 1 / rho)
    let maxInverse = pow(sigmaMax, 1 / rho)
    return NumPy.linspace(0, 1, count: count).map { pow(maxInverse + $0 * (minInverse - maxInverse), rho) }
  }

  /// diffusers `_sigma_to_t`: the fractional training timestep whose log-sigma interpolates to `sigma`.
  /// - Parameter logSigmas: `log σ_t` for every training timestep (ascending, float32 values).
  static func timestep(forSigma sigma: Double, logSigmas: [Float]) -> Double {
    let logSigma = log(max(sigma, 1e-10))
    var low = 0
    for (index, value) in logSigmas.enumerated() where logSigma - Double(value) >= 0 { low = index }
    low = min(low, logSigmas.count - 2)
    let high = low + 1
    let lowValue = Double(logSigmas[low])
    let highValue = Double(logSigmas[high])
    var weight = (lowValue - logSigma) / (lowValue - highValue)
    weight = min(max(weight, 0), 1)
    return (1 - weight) * Double(low) + weight * Double(high)
  }

  /// The sigma after the last step: 0 (`zero`) or σ at timestep 0 (`sigma_min`).
  static func finalSigma(_ type: String?, schedule: NoiseSchedule, scheduler: String) throws(SchedulerError) -> Float {
    switch type ?? "zero" {
    case "zero": return 0
    case "sigma_min":
      let alpha = schedule.alphasCumprod[0]
      return ((1 - alpha) / alpha).squareRoot()
    case let other: throw .unsupported(field: "final_sigmas_type", value: other, scheduler: scheduler)
    }
  }

  /// The float32 timesteps of diffusers' Euler schedulers for a spacing.
  static func eulerTimesteps(
    spacing: TimestepSpacing, stepCount: Int, trainCount: Int, stepsOffset: Int
  ) -> [Double] {
    switch spacing {
    case .linspace:
      return NumPy.linspace(0, Double(trainCount - 1), count: stepCount).reversed().map { Double(Float($0)) }
    case .leading:
      let ratio = trainCount / stepCount
      return (0..<stepCount).reversed().map { Double(Float($0 * ratio) + Float(stepsOffset)) }
    case .trailing:
      let ratio = Double(trainCount) / Double(stepCount)
      return NumPy.arangeDescending(Double(trainCount), 0, step: -ratio).map { Double(Float(NumPy.round($0)) - 1) }
    }
  }
}
