import Foundation

/// diffusers' `timestep_spacing`: how `set_timesteps(n)` spreads n inference timesteps over training time.
public enum TimestepSpacing: String, Sendable, Codable, CaseIterable {
  /// `(n−1, …, 1, 0) · (T ÷ n) + steps_offset` (Stable Diffusion's DDIM setting).
  case leading
  /// `round(T, T − T/n, …) − 1`: always includes the noisiest timestep.
  case trailing
  /// `round(linspace(0, T − 1, n))`, reversed.
  case linspace

  static func resolve(_ value: String?, default fallback: TimestepSpacing, scheduler: String) throws(SchedulerError)
    -> TimestepSpacing
  {
    guard let value else { return fallback }
    guard let spacing = TimestepSpacing(rawValue: value) else {
      throw .unsupported(field: "timestep_spacing", value: value, scheduler: scheduler)
    }
    return spacing
  }
}

/// NumPy helpers reproduced exactly (float64, round half to even).
enum NumPy {
  /// `np.linspace(start, stop, count)` (endpoint included; the last element is exactly `stop`).
  static func linspace(_ start: Double, _ stop: Double, count: Int) -> [Double] {
    guard count > 1 else { return count == 1 ? [start] : [] }
    let step = (stop - start) / Double(count - 1)
    var values = (0..<count).map { Double($0) * step + start }
    values[count - 1] = stop
    return values
  }

  /// `np.arange(start, stop, step)` for a negative step.
  static func arangeDescending(_ start: Double, _ stop: Double, step: Double) -> [Double] {
    let count = max(0, Int((((stop - start) / step)).rounded(.up)))
    return (0..<count).map { start + Double($0) * step }
  }

  /// `np.round` (half to even).
  static func round(_ value: Double) -> Double { value.rounded(.toNearestOrEven) }

  /// `np.interp(x, arange(values.count), values)` for x inside `[0, count − 1]` (clamped outside).
  static func interpolate(_ x: Double, _ values: [Double]) -> Double {
    if x <= 0 { return values[0] }
    if x >= Double(values.count - 1) { return values[values.count - 1] }
    let low = Int(x.rounded(.down))
    let fraction = x - Double(low)
    // NumPy: slope * (x - xp[j]) + fp[j], slope = (fp[j+1] - fp[j]) / (xp[j+1] - xp[j])
    let slope = values[low + 1] - values[low]
    return fraction == 0 ? values[low] : slope * fraction + values[low]
  }
}
