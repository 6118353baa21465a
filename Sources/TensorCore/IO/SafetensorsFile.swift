import Foundation

/// A memory-mapped safetensors file, validated completely when opened.
///
/// Opening checks that the file is a regular file (a FIFO or device is refused without blocking), that the
/// header length is at most 100 MB and lies inside the file, that the header is a well-formed JSON
/// object, that every dtype is known, that `shape × dtype size` equals each tensor's byte range, that the
/// ranges lie inside the data section, and that no two ranges overlap. Reading a tensor converts F32,
/// F16, BF16, F64 and the integer types to float32.
public final class SafetensorsFile: @unchecked Sendable {
  /// One tensor's entry in the header.
  public struct Entry: Sendable, Equatable {
    /// The stored element type.
    public let dtype: SafetensorsDType
    /// The tensor's shape.
    public let shape: [Int]
    /// The byte range relative to the start of the data section.
    public let byteRange: Range<Int>

    /// The rows `range` of the first dimension: the same bytes, so a view stays in the file's mapping (the
    /// query, key and value thirds of a fused `in_proj_weight`).
    /// - Precondition: the tensor has at least one dimension and `range` lies inside its first.
    public func rows(_ range: Range<Int>) -> Entry {
      precondition(!shape.isEmpty && range.lowerBound >= 0 && range.upperBound <= shape[0], "rows \(range) of \(shape)")
      let rowBytes = shape.dropFirst().reduce(dtype.byteSize, *)
      let start = byteRange.lowerBound + range.lowerBound * rowBytes
      return Entry(
        dtype: dtype, shape: [range.count] + shape.dropFirst(), byteRange: start..<(start + range.count * rowBytes))
    }

    /// The same bytes under another shape with as many elements (a 1×1 convolution's `[O, I, 1, 1]` weight read as
    /// a linear layer's `[O, I]`).
    /// - Precondition: `shape` has as many elements.
    public func reshaped(_ shape: [Int]) -> Entry {
      precondition(shape.reduce(1, *) == self.shape.reduce(1, *), "cannot reshape \(self.shape) to \(shape)")
      return Entry(dtype: dtype, shape: shape, byteRange: byteRange)
    }
  }

  /// The file this was read from.
  public let url: URL
  /// The header entries by tensor name.
  public let entries: [String: Entry]
  /// The free-form `__metadata__` strings of the header.
  public let metadata: [String: String]
  /// The tensor names, sorted.
  public var tensorNames: [String] { entries.keys.sorted() }

  /// The largest header accepted: 100 MB, the limit of the safetensors format itself (its Rust reader refuses
  /// longer headers), checked before any of the header is copied.
  public static let maximumHeaderLength: UInt64 = 100_000_000

  private let mapping: MemoryMapping
  private let dataOffset: Int

  /// Maps and validates a safetensors file.
  /// - Throws: `SafetensorsError` naming the file (and tensor) for every defect listed in the type's summary.
  public init(contentsOf url: URL) throws {
    self.url = url
    let name = url.path
    mapping = try MemoryMapping(url: url)
    let size = mapping.count
    guard size >= 8 else { throw SafetensorsError.truncatedHeader(file: name, headerLength: 0, fileSize: size) }
    let headerLength = UInt64(littleEndian: mapping.bytes.loadUnaligned(as: UInt64.self))
    guard headerLength <= Self.maximumHeaderLength else {
      throw SafetensorsError.headerTooLarge(file: name, headerLength: headerLength)
    }
    guard headerLength <= UInt64(size - 8) else {
      throw SafetensorsError.truncatedHeader(file: name, headerLength: headerLength, fileSize: size)
    }
    dataOffset = 8 + Int(headerLength)
    let headerData = Data(bytes: mapping.bytes + 8, count: Int(headerLength))
    let json: Any
    do { json = try JSONSerialization.jsonObject(with: headerData) } catch {
      throw SafetensorsError.malformedHeader(file: name, reason: "the header is not valid JSON")
    }
    guard let object = json as? [String: Any] else {
      throw SafetensorsError.malformedHeader(file: name, reason: "the header is not a JSON object")
    }
    var entries: [String: Entry] = [:]
    var metadata: [String: String] = [:]
    let dataSize = size - dataOffset
    for (tensor, value) in object {
      if tensor == "__metadata__" {
        guard let strings = value as? [String: Any] else {
          throw SafetensorsError.malformedHeader(file: name, reason: "__metadata__ is not an object")
        }
        for (key, item) in strings {
          guard let text = item as? String else {
            throw SafetensorsError.malformedHeader(
              file: name, reason: "__metadata__ value for '\(key)' is not a string")
          }
          metadata[key] = text
        }
        continue
      }
      entries[tensor] = try Self.parseEntry(value, tensor: tensor, file: name, dataSize: dataSize)
    }
    let ordered = entries.sorted { $0.value.byteRange.lowerBound < $1.value.byteRange.lowerBound }
    for (previous, next) in zip(ordered, ordered.dropFirst())
    where previous.value.byteRange.overlaps(next.value.byteRange) {
      throw SafetensorsError.overlappingRanges(file: name, first: previous.key, second: next.key)
    }
    self.entries = entries
    self.metadata = metadata
  }

  private static func parseEntry(_ value: Any, tensor: String, file: String, dataSize: Int) throws -> Entry {
    guard let fields = value as? [String: Any] else {
      throw SafetensorsError.malformedEntry(file: file, tensor: tensor, reason: "entry is not an object")
    }
    guard let dtypeName = fields["dtype"] as? String else {
      throw SafetensorsError.malformedEntry(file: file, tensor: tensor, reason: "missing string field 'dtype'")
    }
    guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
      throw SafetensorsError.unknownDType(file: file, tensor: tensor, dtype: dtypeName)
    }
    guard let shape = integers(fields["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
      throw SafetensorsError.malformedEntry(
        file: file, tensor: tensor, reason: "'shape' is not a list of non-negative integers")
    }
    guard let offsets = integers(fields["data_offsets"]), offsets.count == 2 else {
      throw SafetensorsError.malformedEntry(
        file: file, tensor: tensor, reason: "'data_offsets' is not a pair of integers")
    }
    guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataSize else {
      throw SafetensorsError.rangeOutOfBounds(file: file, tensor: tensor, range: offsets, dataSize: dataSize)
    }
    let (elements, overflow) = shape.reduce((1, false)) { partial, extent in
      let product = partial.0.multipliedReportingOverflow(by: extent)
      return (product.partialValue, partial.1 || product.overflow)
    }
    let byteCount = offsets[1] - offsets[0]
    guard !overflow, elements.multipliedReportingOverflow(by: dtype.byteSize) == (byteCount, false) else {
      throw SafetensorsError.sizeMismatch(
        file: file, tensor: tensor, shape: shape, dtype: dtypeName, byteCount: byteCount)
    }
    return Entry(dtype: dtype, shape: shape, byteRange: offsets[0]..<offsets[1])
  }

  private static func integers(_ value: Any?) -> [Int]? {
    guard let list = value as? [Any] else { return nil }
    var result: [Int] = []
    for item in list {
      guard let number = item as? NSNumber else { return nil }
      let double = number.doubleValue
      guard double == double.rounded(), abs(double) < 9.0e15 else { return nil }
      result.append(number.intValue)
    }
    return result
  }

  /// Reads a tensor and converts it to float32.
  /// - Throws: `SafetensorsError.missingTensor` or `.unsupportedDType`.
  public func tensor(named name: String) throws -> Tensor {
    guard let entry = entries[name] else { throw SafetensorsError.missingTensor(file: url.path, tensor: name) }
    return try tensor(entry, named: name)
  }

  /// Reads the values an entry (or a view of one, see ``Entry/rows(_:)``) describes and converts them to float32.
  /// - Parameters:
  ///   - entry: an entry of this file, or a view of one.
  ///   - name: the tensor's name, for errors.
  /// - Throws: `SafetensorsError.unsupportedDType`.
  public func tensor(_ entry: Entry, named name: String) throws -> Tensor {
    guard entry.dtype.isConvertibleToFloat else {
      throw SafetensorsError.unsupportedDType(file: url.path, tensor: name, dtype: entry.dtype.rawValue)
    }
    let source = dataAddress(of: entry)
    let tensor = Tensor(shape: entry.shape) { out in
      FloatConversion.convert(source, dtype: entry.dtype, into: out)
    }
    releasePages(of: entry)
    return tensor
  }

  /// The address of a tensor's first byte in the mapping.
  func dataAddress(of entry: Entry) -> UnsafeRawPointer {
    mapping.bytes + dataOffset + entry.byteRange.lowerBound
  }

  /// Returns the mapped pages of a tensor that has been copied out to the kernel (`MADV_DONTNEED`), so loading
  /// a large checkpoint does not hold the file's pages and the copies at the same time. Reading the tensor again
  /// faults the pages back in from the file.
  func releasePages(of entry: Entry) {
    mapping.release(byteOffset: dataOffset + entry.byteRange.lowerBound, count: entry.byteRange.count)
  }

  /// Calls `body` with the raw little-endian bytes of a tensor as stored in the file (no conversion).
  /// - Throws: `SafetensorsError.missingTensor`, or what `body` throws.
  public func withRawBytes<R>(named name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
    guard let entry = entries[name] else { throw SafetensorsError.missingTensor(file: url.path, tensor: name) }
    return try body(UnsafeRawBufferPointer(start: dataAddress(of: entry), count: entry.byteRange.count))
  }
}

/// A read-only private memory mapping of a whole file, unmapped on deinit.
final class MemoryMapping: @unchecked Sendable {
  let bytes: UnsafeRawPointer
  let count: Int

  init(url: URL) throws {
    let descriptor: Int32
    do { (descriptor, count) = try RegularFile.open(url.path) } catch {
      throw SafetensorsError.unreadable(file: url.path, reason: error.reason)
    }
    defer { close(descriptor) }
    if count == 0 {
      bytes = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8))
      return
    }
    let address = mmap(nil, count, PROT_READ, MAP_PRIVATE, descriptor, 0)
    guard let address, address != MAP_FAILED else {
      throw SafetensorsError.unreadable(file: url.path, reason: String(cString: strerror(errno)))
    }
    bytes = UnsafeRawPointer(address)
  }

  private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

  /// Drops the whole pages inside `[byteOffset, byteOffset + count)` from the process's memory.
  func release(byteOffset: Int, count length: Int) {
    let page = Self.pageSize
    let start = (byteOffset + page - 1) / page * page
    let end = (byteOffset + length) / page * page
    guard count > 0, end > start else { return }
    madvise(UnsafeMutableRawPointer(mutating: bytes + start), end - start, MADV_DONTNEED)
  }

  deinit {
    if count == 0 {
      UnsafeMutableRawPointer(mutating: bytes).deallocate()
    } else {
      munmap(UnsafeMutableRawPointer(mutating: bytes), count)
    }
  }
}
