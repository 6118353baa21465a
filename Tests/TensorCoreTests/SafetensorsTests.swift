import Foundation
import TensorCore
import Testing

@Suite("SafetensorsFile")
struct SafetensorsTests {
  let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("safetensors")

  /// A fresh temporary directory for one test.
  func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("bld-safetensors-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// Writes a file made of an explicit header string and data bytes.
  func rawFile(header: String, data: [UInt8] = [], headerLength: UInt64? = nil) throws -> URL {
    let url = try temporaryDirectory().appendingPathComponent("raw.safetensors")
    var bytes = Data()
    let headerBytes = Data(header.utf8)
    withUnsafeBytes(of: (headerLength ?? UInt64(headerBytes.count)).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(headerBytes)
    bytes.append(contentsOf: data)
    try bytes.write(to: url)
    return url
  }

  @Test func readsEveryDTypeWrittenByTheSafetensorsPackage() throws {
    let file = try SafetensorsFile(contentsOf: fixtures.appendingPathComponent("mixed.safetensors"))
    let expected =
      try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent("mixed.json")))
      as! [String: [String: Any]]
    #expect(Set(file.tensorNames) == Set(expected.keys))
    #expect(file.metadata == ["format": "pt"])
    #expect(file.entries["f16"]?.dtype == .float16 && file.entries["bf16"]?.dtype == .bfloat16)
    for (name, values) in expected {
      let tensor = try file.tensor(named: name)
      #expect(tensor.shape == (values["shape"] as! [Int]), "\(name)")
      #expect(tensor.scalars == (values["values"] as! [Double]).map { Float($0) }, "\(name)")
    }
  }

  @Test(arguments: [SafetensorsDType.float32, .float16, .bfloat16])
  func roundTripsThroughTheWriter(dtype: SafetensorsDType) throws {
    let url = try temporaryDirectory().appendingPathComponent("round.safetensors")
    let a = Tensor(shape: [2, 3], scalars: [1, -2, 0.5, 3.25, 1e-3, -7])
    let b = Tensor(shape: [4], scalars: [0, 1, 2, 65504])
    try SafetensorsFile.write(["a": a, "b.weight": b], dtype: dtype, metadata: ["note": "x"], to: url)
    let file = try SafetensorsFile(contentsOf: url)
    #expect(file.tensorNames == ["a", "b.weight"])
    #expect(file.metadata == ["note": "x"])
    #expect(file.entries["a"]?.dtype == dtype)
    let tolerance: Float = dtype == .bfloat16 ? 1e-2 : (dtype == .float16 ? 1e-3 : 0)
    for (name, original) in [("a", a), ("b.weight", b)] {
      let read = try file.tensor(named: name)
      try #require(read.shape == original.shape)
      for (x, y) in zip(read.scalars, original.scalars) { #expect(abs(x - y) <= tolerance * max(1, abs(y))) }
    }
  }

  @Test func missingTensorIsNamed() throws {
    let file = try SafetensorsFile(contentsOf: fixtures.appendingPathComponent("mixed.safetensors"))
    #expect(throws: SafetensorsError.missingTensor(file: file.url.path, tensor: "nope")) {
      try file.tensor(named: "nope")
    }
  }

  @Test func rejectsAFileShorterThanTheLengthField() throws {
    let url = try temporaryDirectory().appendingPathComponent("short.safetensors")
    try Data([1, 2, 3]).write(to: url)
    #expect(throws: SafetensorsError.truncatedHeader(file: url.path, headerLength: 0, fileSize: 3)) {
      try SafetensorsFile(contentsOf: url)
    }
  }

  @Test func rejectsAHeaderLengthPastTheEndOfTheFile() throws {
    let url = try rawFile(header: "{}", headerLength: 1000)
    #expect(throws: SafetensorsError.truncatedHeader(file: url.path, headerLength: 1000, fileSize: 10)) {
      try SafetensorsFile(contentsOf: url)
    }
  }

  @Test func rejectsMalformedJSON() throws {
    let url = try rawFile(header: "{\"a\": [")
    #expect {
      try SafetensorsFile(contentsOf: url)
    } throws: { error in
      guard case .malformedHeader(let file, _) = error as? SafetensorsError else { return false }
      return file == url.path
    }
  }

  @Test func rejectsAHeaderThatIsNotAnObject() throws {
    let url = try rawFile(header: "[1, 2]")
    #expect(throws: SafetensorsError.malformedHeader(file: url.path, reason: "the header is not a JSON object")) {
      try SafetensorsFile(contentsOf: url)
    }
  }

  @Test func rejectsAnUnknownDType() throws {
    let url = try rawFile(
      header: #"{"w": {"dtype": "F12", "shape": [1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0])
    #expect(throws: SafetensorsError.unknownDType(file: url.path, tensor: "w", dtype: "F12")) {
      try SafetensorsFile(contentsOf: url)
    }
  }

  @Test func rejectsAShapeThatDoesNotFillItsRange() throws {
    let url = try rawFile(
      header: #"{"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}"#,
      data: Array(repeating: 0, count: 12))
    #expect(
      throws: SafetensorsError.sizeMismatch(file: url.path, tensor: "w", shape: [2, 2], dtype: "F32", byteCount: 12)
    ) {
      try SafetensorsFile(contentsOf: url)
    }
  }

  @Test func rejectsARangeOutsideTheDataSection() throws {
    let url = try rawFile(
      header: #"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#, data: Array(repeating: 0, count: 8))
    #expect(throws: SafetensorsError.rangeOutOfBounds(file: url.path, tensor: "w", range: [4, 12], dataSize: 8)) {
      try SafetensorsFile(contentsOf: url)
    }
  }

  @Test func rejectsOverlappingRanges() throws {
    let header =
      #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#
    let url = try rawFile(header: header, data: Array(repeating: 0, count: 8))
    #expect(throws: SafetensorsError.overlappingRanges(file: url.path, first: "a", second: "b")) {
      try SafetensorsFile(contentsOf: url)
    }
  }

  @Test func rejectsAnEntryWithoutOffsets() throws {
    let url = try rawFile(header: #"{"w": {"dtype": "F32", "shape": [1]}}"#, data: [0, 0, 0, 0])
    #expect(
      throws: SafetensorsError.malformedEntry(
        file: url.path, tensor: "w", reason: "'data_offsets' is not a pair of integers")
    ) {
      try SafetensorsFile(contentsOf: url)
    }
  }

  @Test func rejectsAMissingFile() throws {
    let url = try temporaryDirectory().appendingPathComponent("absent.safetensors")
    #expect {
      try SafetensorsFile(contentsOf: url)
    } throws: { error in
      guard case .unreadable(let file, _) = error as? SafetensorsError else { return false }
      return file == url.path
    }
  }

  @Test func refusesToConvertFloat8() throws {
    let url = try rawFile(header: #"{"w": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}"#, data: [0, 0])
    let file = try SafetensorsFile(contentsOf: url)
    #expect(throws: SafetensorsError.unsupportedDType(file: url.path, tensor: "w", dtype: "F8_E4M3")) {
      try file.tensor(named: "w")
    }
  }
}
