import Foundation

/// One `--lora FILE[:SCALE]` argument: a LoRA safetensors file and the scale to apply it at.
package struct LoRASetting: Sendable, Equatable {
  /// The LoRA file.
  package var path: String
  /// The user scale (default 1).
  package var scale: Double

  /// A file at a scale.
  package init(path: String, scale: Double = 1) {
    self.path = path
    self.scale = scale
  }

  /// Parses `FILE` or `FILE:SCALE`. The text after the last `:` is the scale when it is a finite number;
  /// otherwise the whole argument is the file if such a file exists (a name with a colon), and the argument is
  /// rejected if not.
  /// - Parameters:
  ///   - argument: the option's value.
  ///   - fileExists: whether a path names an existing file (injected by tests).
  /// - Returns: nil when the argument ends in `:TEXT` that is not a number and is not an existing file's name.
  package init?(argument: String, fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) {
    guard let colon = argument.lastIndex(of: ":") else {
      self.init(path: argument)
      return
    }
    let suffix = argument[argument.index(after: colon)...]
    if let scale = Double(suffix), scale.isFinite, colon > argument.startIndex {
      self.init(path: String(argument[..<colon]), scale: scale)
    } else if fileExists(argument) {
      self.init(path: argument)
    } else {
      return nil
    }
  }
}
