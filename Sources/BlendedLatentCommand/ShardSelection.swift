import Foundation

/// Which lines of a `bld batch` manifest this process runs: shard `index` of `count`.
///
/// Line `k` of the manifest (0-based, every line counted, blank ones too) belongs to shard `k mod count`, so
/// the shards of one manifest are disjoint and together cover it, whatever the job engine's order.
package struct ShardSelection: Sendable, Equatable, CustomStringConvertible {
  /// The environment variables that carry a job array's index, in the order they are consulted:
  /// Kubernetes Indexed Jobs' `JOB_COMPLETION_INDEX`, then Slurm's `SLURM_ARRAY_TASK_ID`.
  package static let indexVariables = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"]

  /// This shard, in `0..<count`.
  package let index: Int
  /// The number of shards, ≥ 1.
  package let count: Int

  /// A shard; `index` must be in `0..<count`.
  package init(index: Int, count: Int) {
    precondition(count >= 1 && (0..<count).contains(index), "shard \(index)/\(count)")
    self.index = index
    self.count = count
  }

  /// `I/N`.
  package var description: String { "\(index)/\(count)" }

  /// Whether the manifest's line `lineIndex` (0-based) belongs to this shard.
  package func contains(lineIndex: Int) -> Bool { lineIndex % count == index }

  /// The shard `bld batch` runs.
  ///
  /// - `--shard I/N` names it.
  /// - `--shards N` takes `I` from `JOB_COMPLETION_INDEX`, else `SLURM_ARRAY_TASK_ID`.
  /// - Neither: the whole manifest (`0/1`), unless one of those variables is set — then a job array would run
  ///   every line in every task, so it is an error asking for `--shards N`.
  /// - Parameters:
  ///   - shard: the `--shard` value, `I/N`.
  ///   - shards: the `--shards` value.
  ///   - environment: the process environment.
  /// - Throws: ``ShardSelectionError`` naming the option or variable.
  package static func resolve(shard: String?, shards: Int?, environment: [String: String]) throws
    -> ShardSelection
  {
    if let shard {
      guard shards == nil else { throw ShardSelectionError("--shard I/N and --shards N are exclusive") }
      let parts = shard.split(separator: "/", omittingEmptySubsequences: false)
      guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
        throw ShardSelectionError("--shard must be I/N, e.g. 0/3 (got '\(shard)')")
      }
      return try checked(index: index, count: count, source: "--shard")
    }
    let variable = indexVariables.first { environment[$0] != nil }
    guard let count = shards else {
      if let variable {
        throw ShardSelectionError(
          "\(variable) is set (a job array?) but --shards N is not: pass --shards N (the array's size), "
            + "or --shard 0/1 to run every line")
      }
      return ShardSelection(index: 0, count: 1)
    }
    guard let variable, let text = environment[variable] else {
      throw ShardSelectionError(
        "--shards \(count) needs this process's index: pass --shard I/\(count), or set "
          + indexVariables.joined(separator: " or "))
    }
    guard let index = Int(text.trimmingCharacters(in: .whitespaces)) else {
      throw ShardSelectionError("\(variable) must be an integer (got '\(text)')")
    }
    return try checked(index: index, count: count, source: variable)
  }

  private static func checked(index: Int, count: Int, source: String) throws -> ShardSelection {
    guard count >= 1 else { throw ShardSelectionError("the shard count must be ≥ 1 (got \(count))") }
    guard (0..<count).contains(index) else {
      throw ShardSelectionError(
        "\(source): shard index \(index) is not in 0…\(count - 1) (job arrays must be numbered from 0)")
    }
    return ShardSelection(index: index, count: count)
  }
}
