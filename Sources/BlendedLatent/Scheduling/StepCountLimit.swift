/// The check that a schedule's integer timesteps are usable, and the largest step count that is when they are not.
///
/// `leading` spacing adds `steps_offset` (1 for Stable Diffusion) to `(n−1, …, 0) · (T ÷ n)`, so 1000 steps of a
/// 1000-timestep model reach timestep 1000, past the last one; DPM-Solver++'s spacings repeat timesteps near
/// `n = T`, which would divide by a zero step. diffusers fails on both (an index error, or NaN); here they are a
/// ``SchedulerError/tooManySteps(_:maximum:reason:)`` naming the largest count that works.
enum StepCountLimit {
  /// Throws unless `timesteps(stepCount)` lies in `0..<trainCount` and strictly decreases.
  /// - Parameters:
  ///   - stepCount: the requested count.
  ///   - trainCount: the training timesteps T.
  ///   - stepsOffset: the configuration's `steps_offset`, for the message.
  ///   - timesteps: the schedule's integer timesteps for a step count.
  static func check(
    stepCount: Int, trainCount: Int, stepsOffset: Int, timesteps: (Int) -> [Int]
  ) throws(SchedulerError) {
    func problem(_ steps: [Int]) -> String? {
      if let bad = steps.first(where: { !(0..<trainCount).contains($0) }) {
        return "with steps_offset \(stepsOffset) timestep \(bad) lies outside 0…\(trainCount - 1)"
      }
      if zip(steps, steps.dropFirst()).contains(where: { $0 <= $1 }) { return "the spacing repeats timesteps" }
      return nil
    }
    guard let reason = problem(timesteps(stepCount)) else { return }
    let maximum = (1..<stepCount).reversed().first { problem(timesteps($0)) == nil } ?? 0
    guard maximum > 0 else {
      throw .invalid(field: "steps_offset", value: "\(stepsOffset)", reason: "timesteps leave 0..<\(trainCount)")
    }
    throw .tooManySteps(stepCount, maximum: maximum, reason: reason)
  }
}
