import ArgumentParser
import Foundation

/// `bld inspect DIR|FILE`: what a model folder or a single-file checkpoint holds.
package struct InspectCommand: ParsableCommand {
  /// The subcommand's name and summary.
  package static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract:
      "Show what a model folder holds (family, prediction type, components, parameters, dtypes, resolution) or a "
      + "single-file .safetensors checkpoint (family, inpainting, parameters, dtypes).")

  /// The model folder or checkpoint file.
  @Argument(
    help: ArgumentHelp(
      "A Stable Diffusion folder in diffusers layout, or a single-file .safetensors checkpoint.", valueName: "PATH"))
  package var directory: String

  /// `--json`.
  @Flag(help: "Print the report as JSON.")
  package var json = false

  /// Creates the command (used by the parser).
  package init() {}

  /// Checks that the path exists.
  package func validate() throws {
    guard FileManager.default.fileExists(atPath: directory) else {
      throw ValidationError("'\(directory)' does not exist")
    }
  }

  /// Runs with the default inspector.
  package func run() throws {
    let status = execute(inspector: defaultModelInspector(), console: ProcessConsole())
    if status != 0 { throw ExitCode(status) }
  }

  /// Inspects and prints; returns the exit status (1 after a one-line error).
  package func execute(inspector: any ModelInspecting, console: any CommandConsole) -> Int32 {
    do {
      var isDirectory: ObjCBool = false
      _ = FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory)
      if !isDirectory.boolValue {
        let report = try CheckpointFileReport(url: URL(fileURLWithPath: directory))
        console.writeOutput(json ? report.jsonLine() + "\n" : report.text)
        return 0
      }
      let report = try inspector.inspect(directory: URL(fileURLWithPath: directory))
      console.writeOutput(json ? report.jsonLine() + "\n" : report.text)
      return 0
    } catch {
      console.writeError("bld: error: \(EditCommand.oneLine(error))\n")
      return 1
    }
  }
}
