import ArgumentParser
import Foundation

/// One job of a `bld batch` manifest: a JSON object whose keys are `bld edit`'s per-edit options in snake case
/// (`negative_prompt` for `--negative-prompt`), plus `output`, a path inside the output folder.
///
/// `bld edit`'s parser is the one definition of what an option means: every key becomes `--kebab-name=VALUE`,
/// the run's own options (`--model`, `--threads`, …) are appended, and ``EditCommand`` parses and validates the
/// result, so a line accepts exactly the values, defaults and combinations `bld edit` accepts, and its messages
/// name the key (`steps must be between 1 and 1000 (got 0)`). See `Documentation/Decisions/0019-batch-manifest.md`.
package struct BatchJob: Sendable {
  /// The keys a line may use besides `output`: every per-edit option of `bld edit`.
  package static let perEditKeys: Set<String> = [
    "image", "mask", "prompt", "negative_prompt", "steps", "guidance", "strength", "seed", "batch", "scheduler",
    "inpainting_blend", "background", "mask_shrink", "mask_downsample", "crop_to_mask", "working_size", "feather",
    "fine_tune", "fine_tune_iterations", "fine_tune_memory_gb",
  ]

  /// `bld edit`'s options that concern the model or the process, given once on `bld batch`'s command line
  /// (a line naming one is refused with a message saying so).
  package static let wholeRunKeys: Set<String> = [
    "model", "config", "prediction", "lora", "rank_with", "threads", "precision",
  ]

  /// The `output` value as written in the line (relative to the output folder).
  package let output: String
  /// The edit, exactly as `bld edit` would run it.
  package let settings: EditSettings

  /// The JSON summary written beside the outputs when the job is done: the first output's path plus `.json`.
  package var sidecarPath: String { settings.outputPath + ".json" }

  /// Parses one manifest line.
  /// - Parameters:
  ///   - line: the line's text.
  ///   - manifestFolder: the folder relative `image` and `mask` paths are resolved against.
  ///   - outputDirectory: the folder `output` is relative to.
  ///   - runArguments: the whole run's `bld edit` options (`--model …`, `--threads …`).
  /// - Throws: ``BatchLineError``.
  package init(
    line: String, manifestFolder: String, outputDirectory: String, runArguments: [String]
  ) throws {
    let object = try Self.object(in: line)
    output = try Self.relativeOutput(object["output"])
    var arguments: [String] = []
    for key in object.keys.sorted() where key != "output" {
      if Self.wholeRunKeys.contains(key) { throw BatchLineError.wholeRunKey(key) }
      guard Self.perEditKeys.contains(key) else { throw BatchLineError.unknownKey(key) }
      guard var text = object[key]?.argumentText else {
        throw BatchLineError.wrongType(key: key, found: object[key]?.kind ?? "nothing")
      }
      if key == "image" || (key == "mask" && text != "alpha") {
        text = URL(fileURLWithPath: text, relativeTo: URL(fileURLWithPath: manifestFolder, isDirectory: true)).path
      }
      arguments.append("--\(key.replacingOccurrences(of: "_", with: "-"))=\(text)")
    }
    arguments.append("--output=" + URL(fileURLWithPath: outputDirectory).appendingPathComponent(output).path)
    do {
      settings = try EditCommand.parse(arguments + runArguments).settings
    } catch {
      throw BatchLineError.invalidValue(message: Self.namingKeys(EditCommand.message(for: error)))
    }
  }

  /// The line as a JSON object.
  private static func object(in line: String) throws -> [String: ManifestValue] {
    guard line.drop(while: \.isWhitespace).first == "{" else {
      throw BatchLineError.malformed(reason: "the line does not start with '{'")
    }
    do {
      return try JSONDecoder().decode([String: ManifestValue].self, from: Data(line.utf8))
    } catch let DecodingError.dataCorrupted(context) {
      let detail = context.underlyingError.map { " (\(EditCommand.oneLine($0)))" } ?? ""
      throw BatchLineError.malformed(reason: context.debugDescription + detail)
    } catch {
      throw BatchLineError.malformed(reason: EditCommand.oneLine(error))
    }
  }

  /// The `output` value: a relative path that stays inside the output folder (no absolute path, no `..`).
  package static func relativeOutput(_ value: ManifestValue?) throws -> String {
    guard let value else { throw BatchLineError.badOutput(reason: "is missing") }
    guard case .string(let output) = value else {
      throw BatchLineError.badOutput(reason: "must be a string (got \(value.kind))")
    }
    let components = output.split(separator: "/", omittingEmptySubsequences: false)
    guard !output.isEmpty, !output.hasPrefix("/"), !components.contains("..") else {
      throw BatchLineError.badOutput(
        reason: "must be a path inside the output folder, without '..' and not absolute (got '\(output)')")
    }
    return output
  }

  /// `bld edit`'s message with its per-edit options written as this manifest's keys:
  /// `'--steps <N>'` → `'steps'`, `--mask-shrink` → `mask_shrink`. Run options (`--model`) stay as they are.
  private static func namingKeys(_ message: String) -> String {
    message.replacing(#/--([a-z][a-z0-9-]*)(?: <[^>]*>)?/#) { match in
      let key = match.output.1.replacingOccurrences(of: "-", with: "_")
      return perEditKeys.contains(key) || key == "output" ? key : String(match.output.0)
    }
  }
}
