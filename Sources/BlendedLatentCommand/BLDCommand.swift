import ArgumentParser

/// The `bld` command: Blended Latent Diffusion on the command line.
package struct BLDCommand: ParsableCommand {
  /// The root command's name, summary and subcommands.
  package static let configuration = CommandConfiguration(
    commandName: "bld",
    abstract:
      "Local, text-driven image editing with Blended Latent Diffusion (Stable Diffusion on the CPU).",
    version: "0.1.0",
    subcommands: [EditCommand.self, InspectCommand.self, BatchCommand.self, ServeCommand.self])

  /// Creates the command (used by the parser).
  package init() {}
}
