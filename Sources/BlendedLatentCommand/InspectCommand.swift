import ArgumentParser
import Foundation

/// `bld inspect DIR`: what a model folder holds.
package struct InspectCommand: ParsableCommand {
  /// The subcommand's name and summary.
  package static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract:
      "Show what a model folder holds: family, prediction type, components, parameters, dtypes, resolution."
  )

  /// The model folder.
  @Argument(help: ArgumentHelp("A Stable Diffusion folder in diffusers layout.", valueName: "DIR"))
  package var directory: String

  /// `--json`.
  @Flag(help: "Print the report as JSON.")
  package var json = false

  /// Creates the command (used by the parser).
  package init() {}

  /// Checks that the folder exists.
  package func validate() throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      throw ValidationError("'\(directory)' is not a folder")
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
      let report = try inspector.inspect(directory: URL(fileURLWithPath: directory))
      console.writeOutput(json ? report.jsonLine() + "\n" : report.text)
      return 0
    } catch {
      console.writeError("bld: error: \(EditCommand.oneLine(error))\n")
      return 1
    }
  }
}
