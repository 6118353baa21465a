import Foundation

/// Safe output files: checks before the work starts and an all-or-nothing atomic write at the end.
///
/// - Outputs are first written to hidden temporary files in the destination folder
///   (`.NAME.bld-PID-RANDOM.tmp`, created exclusively), flushed to disk, and only then moved into place,
///   so a failure or cancellation never leaves a partial file under the output name.
/// - Without `overwrite`, the move is `link(2)` + `unlink(2)`, which fails instead of replacing a file that
///   appeared meanwhile; with `overwrite`, it is `rename(2)`, which replaces atomically.
/// - No output may be the input image or the mask, whatever the spelling (`./a/../in.png`, symlinks, hard
///   links): paths are compared after resolving symlinks, and existing files by device and inode.
package enum AtomicOutput {
  /// Checks that every output can be written: its folder exists, it is not an input, and it does not
  /// exist unless `overwrite`.
  /// - Throws: ``EditCommandError``.
  package static func checkOutputs(_ outputs: [String], inputs: [String], overwrite: Bool) throws {
    for output in outputs {
      let directory = URL(fileURLWithPath: output).deletingLastPathComponent().path
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
        isDirectory.boolValue
      else {
        throw EditCommandError.outputDirectoryMissing(path: directory)
      }
      guard access(directory, W_OK | X_OK) == 0 else {
        let reason = errno == EROFS ? "the file system is read-only" : "permission denied"
        throw EditCommandError.outputDirectoryNotWritable(path: directory, reason: reason)
      }
      for input in inputs where sameFile(output, input) {
        throw EditCommandError.outputIsInput(output: output, input: input)
      }
      if !overwrite && entryExists(output) { throw EditCommandError.outputExists(path: output) }
    }
  }

  /// Writes every `(path, data)` pair or none of them.
  ///
  /// All temporaries are written first; then `beforeCommit` runs (the command checks for cancellation
  /// there); then each is moved into place. On any error, every temporary is deleted and every output
  /// this call already created is removed again.
  /// - Parameters:
  ///   - files: destination paths and contents.
  ///   - overwrite: whether existing destinations may be replaced.
  ///   - inputs: paths that must never be written (checked again right before the move).
  ///   - temporaries: registry of temporaries, for an immediate exit on a second Ctrl-C.
  ///   - beforeCommit: runs after the temporaries are written, before any is moved; throwing aborts.
  /// - Throws: ``EditCommandError`` or what `beforeCommit` throws.
  package static func write(
    _ files: [(path: String, data: Data)], overwrite: Bool, inputs: [String],
    temporaries: TemporaryFiles,
    beforeCommit: () throws -> Void = {}
  ) throws {
    var written: [(temporary: String, destination: String)] = []
    var committed: [String] = []
    do {
      try checkOutputs(files.map(\.path), inputs: inputs, overwrite: overwrite)
      for file in files {
        let temporary = try writeTemporary(file.data, besides: file.path, temporaries: temporaries)
        written.append((temporary, file.path))
      }
      try beforeCommit()
      for (temporary, destination) in written {
        try commit(temporary, to: destination, overwrite: overwrite)
        temporaries.remove(temporary)
        committed.append(destination)
      }
    } catch {
      for (temporary, _) in written {
        unlink(temporary)
        temporaries.remove(temporary)
      }
      if !overwrite { for path in committed { unlink(path) } }
      throw error
    }
  }

  /// Writes `data` to a new hidden file in `destination`'s folder and returns its path.
  static func writeTemporary(_ data: Data, besides destination: String, temporaries: TemporaryFiles)
    throws -> String
  {
    let url = URL(fileURLWithPath: destination)
    let folder = url.deletingLastPathComponent().path
    for _ in 0..<16 {
      let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
      let path = (folder as NSString).appendingPathComponent(
        ".\(url.lastPathComponent).bld-\(getpid())-\(suffix).tmp")
      let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
      if descriptor < 0 {
        if errno == EEXIST { continue }
        throw EditCommandError.writeFailed(
          path: destination, reason: String(cString: strerror(errno)))
      }
      temporaries.add(path)
      var failure: Int32 = 0
      data.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
          let count = Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
          if count < 0 {
            if errno == EINTR { continue }
            failure = errno
            return
          }
          offset += count
        }
      }
      if failure == 0 && fsync(descriptor) != 0 { failure = errno }
      if close(descriptor) != 0 && failure == 0 { failure = errno }
      if failure != 0 {
        unlink(path)
        temporaries.remove(path)
        throw EditCommandError.writeFailed(
          path: destination, reason: String(cString: strerror(failure)))
      }
      return path
    }
    throw EditCommandError.writeFailed(
      path: destination, reason: "could not create a temporary file")
  }

  /// Moves a temporary into place.
  static func commit(_ temporary: String, to destination: String, overwrite: Bool) throws {
    if overwrite {
      guard rename(temporary, destination) == 0 else {
        throw EditCommandError.writeFailed(
          path: destination, reason: String(cString: strerror(errno)))
      }
      return
    }
    if link(temporary, destination) == 0 {
      unlink(temporary)
      return
    }
    let error = errno
    if error == EEXIST { throw EditCommandError.outputExists(path: destination) }
    // File systems without hard links: check, then rename (a small race, only there).
    guard
      error == EPERM || error == ENOTSUP || error == EOPNOTSUPP || error == EMLINK
        || error == ENOSYS
    else {
      throw EditCommandError.writeFailed(
        path: destination, reason: String(cString: strerror(error)))
    }
    if entryExists(destination) { throw EditCommandError.outputExists(path: destination) }
    guard rename(temporary, destination) == 0 else {
      throw EditCommandError.writeFailed(
        path: destination, reason: String(cString: strerror(errno)))
    }
  }

  /// Whether anything (file, folder, dangling symlink) exists at `path`.
  static func entryExists(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0
  }

  /// Whether two paths name the same file: same resolved path, or same device and inode.
  static func sameFile(_ first: String, _ second: String) -> Bool {
    if canonicalPath(first) == canonicalPath(second) { return true }
    var a = stat()
    var b = stat()
    guard stat(first, &a) == 0, stat(second, &b) == 0 else { return false }
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino
  }

  /// The absolute path with `.`/`..` removed and symlinks resolved (the file itself need not exist: its
  /// folder is resolved and the name appended).
  static func canonicalPath(_ path: String) -> String {
    let url = URL(fileURLWithPath: path).standardizedFileURL
    if entryExists(url.path) { return url.resolvingSymlinksInPath().path }
    let folder = url.deletingLastPathComponent().resolvingSymlinksInPath()
    return folder.appendingPathComponent(url.lastPathComponent).path
  }
}
