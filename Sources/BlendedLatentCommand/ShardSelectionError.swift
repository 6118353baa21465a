/// Why the shard could not be chosen (a usage error: `bld batch` exits 64).
package struct ShardSelectionError: Error, CustomStringConvertible, Equatable {
  /// One line naming the option or environment variable.
  package let description: String

  /// An error with its one-line message.
  package init(_ description: String) { self.description = description }
}
