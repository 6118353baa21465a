import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A JSON scalar for the one-object-per-line output (no Codable: keys keep their insertion order).
enum JSONValue {
  case string(String)
  case number(Double)
  case integer(Int)
  case null

  var encoded: String {
    switch self {
    case .string(let text):
      var escaped = ""
      for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": escaped += "\\\""
        case "\\": escaped += "\\\\"
        case "\n": escaped += "\\n"
        default:
          if scalar.value < 0x20 {
            escaped += String(format: "\\u%04x", scalar.value)
          } else {
            escaped.unicodeScalars.append(scalar)
          }
        }
      }
      return "\"\(escaped)\""
    case .number(let value):
      return value.isFinite ? String(format: "%.6g", value) : "null"
    case .integer(let value): return String(value)
    case .null: return "null"
    }
  }
}

/// An ordered JSON object rendered on one line.
struct JSONLine {
  private(set) var fields: [(String, JSONValue)] = []

  mutating func append(_ key: String, _ value: JSONValue) { fields.append((key, value)) }

  var encoded: String {
    "{" + fields.map { "\(JSONValue.string($0.0).encoded):\($0.1.encoded)" }.joined(separator: ",") + "}"
  }

  /// Parses the numeric field `key` of an encoded line (for the sgemm peak handed from child to parent).
  static func number(_ key: String, in line: String) -> Double? {
    guard let range = line.range(of: "\"\(key)\":") else { return nil }
    let rest = line[range.upperBound...].prefix { "0123456789.eE+-".contains($0) }
    return Double(rest)
  }
}

/// Process memory figures from `/proc/self/status`.
enum ProcessMemory {
  /// The peak resident set size (VmHWM) in MiB, or nil where `/proc` is unavailable.
  static var peakResidentMB: Double? { field("VmHWM") }
  /// The current resident set size (VmRSS) in MiB.
  static var residentMB: Double? { field("VmRSS") }

  /// Resets the kernel's peak-RSS counter to the current RSS (Linux ≥ 4.0; a no-op where not permitted).
  static func resetPeak() {
    guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return }
    try? handle.write(contentsOf: Data("5".utf8))
    try? handle.close()
  }

  private static func field(_ name: String) -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
      var usage = rusage()
      guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return nil }
      return name == "VmHWM" ? Double(usage.ru_maxrss) / 1024 : nil
    }
    for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
      let digits = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first
      return digits.flatMap { Double($0) }.map { $0 / 1024 }
    }
    return nil
  }
}

/// Monotonic wall-clock seconds.
func monotonicSeconds() -> Double {
  var time = timespec()
  clock_gettime(CLOCK_MONOTONIC, &time)
  return Double(time.tv_sec) + 1e-9 * Double(time.tv_nsec)
}

/// User plus system CPU seconds of this process (all threads), to read timings taken on a loaded machine.
func processCPUSeconds() -> Double {
  var usage = rusage()
  guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return 0 }
  return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
    + 1e-6 * Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}

/// The median of a non-empty list.
func median(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  let middle = sorted.count / 2
  return sorted.count % 2 == 1 ? sorted[middle] : 0.5 * (sorted[middle - 1] + sorted[middle])
}
