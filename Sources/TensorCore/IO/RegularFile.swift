import Foundation

/// Reads files only when they are regular files of bounded size, so a FIFO, a device such as `/dev/zero`, a
/// directory or a symbolic-link loop is refused at once with a plain reason instead of hanging or filling memory.
///
/// The file is opened with `O_NONBLOCK` (opening a FIFO for reading then returns at once) and checked with
/// `fstat` on the open descriptor, so there is no window between the check and the read.
package enum RegularFile {
  /// Why a file could not be read: a short lower-case reason without the path (callers add the path once).
  package struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
    /// The reason, e.g. "no such file", "it is a FIFO (named pipe), not a regular file".
    package let reason: String

    /// A failure with `reason`.
    package init(reason: String) { self.reason = reason }

    /// The reason.
    package var description: String { reason }
  }

  /// The default largest configuration, index or tokenizer file read into memory: 64 MB.
  package static let defaultMaximumByteCount = 64 << 20

  /// Opens `path` for reading if it is a regular file and returns its descriptor and size.
  /// - Throws: ``Failure`` for a missing, unreadable or non-regular file.
  package static func open(_ path: String) throws(Failure) -> (descriptor: Int32, size: Int) {
    let descriptor = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard descriptor >= 0 else { throw Failure(reason: reason(errno: errno)) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      let code = errno
      close(descriptor)
      throw Failure(reason: reason(errno: code))
    }
    let kind = status.st_mode & S_IFMT
    guard kind == S_IFREG else {
      close(descriptor)
      throw Failure(reason: "\(describe(kind)), not a regular file")
    }
    // Back to blocking reads for the regular file (O_NONBLOCK only mattered for the open).
    _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
    return (descriptor, Int(status.st_size))
  }

  /// Reads a whole regular file of at most `maximumByteCount` bytes.
  /// - Throws: ``Failure`` for a missing, unreadable, non-regular or larger file.
  package static func read(_ url: URL, maximumByteCount: Int = defaultMaximumByteCount) throws(Failure) -> Data {
    let (descriptor, size) = try open(url.path)
    defer { close(descriptor) }
    guard size <= maximumByteCount else {
      throw Failure(reason: "the file has \(size) bytes, more than the \(maximumByteCount) accepted")
    }
    var data = Data(count: size)
    var total = 0
    let failure: Int32? = data.withUnsafeMutableBytes { buffer -> Int32? in
      while total < size {
        let count = Glibc.read(descriptor, buffer.baseAddress! + total, size - total)
        if count < 0 && errno == EINTR { continue }
        if count < 0 { return errno }
        if count == 0 { break }
        total += count
      }
      return nil
    }
    if let failure { throw Failure(reason: reason(errno: failure)) }
    return data.prefix(total)
  }

  /// A plain reason for an `open`/`fstat`/`read` error number.
  static func reason(errno code: Int32) -> String {
    switch code {
    case ENOENT: "no such file"
    case EACCES, EPERM: "permission denied"
    case ELOOP: "too many levels of symbolic links (a symbolic-link loop?)"
    case EISDIR: "it is a directory, not a regular file"
    case ENOTDIR: "a component of the path is not a directory"
    default: String(cString: strerror(code)).lowercased()
    }
  }

  /// "it is a FIFO (named pipe)", "it is a directory", … for a non-regular `st_mode` file type.
  static func describe(_ kind: mode_t) -> String {
    switch kind {
    case S_IFDIR: "it is a directory"
    case S_IFIFO: "it is a FIFO (named pipe)"
    case S_IFCHR: "it is a character device"
    case S_IFBLK: "it is a block device"
    case S_IFSOCK: "it is a socket"
    default: "it is a special file"
    }
  }
}
