import Foundation

/// Errors raised while configuring a scheduler.
public enum SchedulerError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The configuration file could not be read or decoded.
  case unreadableConfiguration(file: String, reason: String)
  /// A configuration field holds a value this package does not implement.
  case unsupported(field: String, value: String, scheduler: String)
  /// A configuration field holds an invalid value.
  case invalid(field: String, value: String, reason: String)
  /// The requested number of inference steps cannot be run.
  case invalidStepCount(Int, trainTimesteps: Int)
  /// The step count is within the training timesteps, but this schedule's spacing and `steps_offset` give
  /// timesteps outside them or repeated; `maximum` is the largest count that works.
  case tooManySteps(Int, maximum: Int, reason: String)

  /// A one-line explanation naming the field and value.
  public var description: String {
    switch self {
    case .unreadableConfiguration(let file, let reason): "\(file): cannot read scheduler configuration: \(reason)"
    case .unsupported(let field, let value, let scheduler): "\(scheduler): \(field) = \(value) is not supported"
    case .invalid(let field, let value, let reason):
      "scheduler configuration: \(field) = \(value) is invalid (\(reason))"
    case .invalidStepCount(let count, let trainTimesteps):
      "cannot run \(count) inference steps with \(trainTimesteps) training timesteps (need 1…\(trainTimesteps))"
    case .tooManySteps(let count, let maximum, let reason):
      "cannot run \(count) inference steps with this schedule: \(reason); use at most \(maximum)"
    }
  }
}

extension SchedulerError: LocalizedError {
  /// ``description``, so `localizedDescription` prints the same line.
  public var errorDescription: String? { description }
}
