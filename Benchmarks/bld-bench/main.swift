// bld-bench: kernel (and later model) benchmarks printing one JSON object per line.
//
//   swift build -c release && .build/release/bld-bench [--filter SUBSTRING] [--repeat N] [--threads N] [--list]
//
// The parent process runs every selected case in its own child process (`bld-bench --case NAME …`), so each
// case's `peak_rss_mb` (VmHWM) covers only that case: its inputs, outputs and workspaces plus the process
// baseline (`baseline_rss_mb`). The sgemm peak (`sgemm-2048`, or the raw cblas case if faster) is measured
// first in the same run and handed to the other children for `fraction_of_sgemm_peak`.
import Foundation
import TensorCore

#if canImport(Glibc)
  import Glibc
#endif

/// Command-line options.
struct BenchOptions {
  var filter: String?
  var repeatCount = 5
  var threads: Int?
  var singleCase: String?
  var sgemmPeak: Double?
  var sgemmBestPeak: Double?
  var list = false
  var modelDirectory: String?
  var residency = WeightResidency.mappedFile
  var precision = GEMMPrecision.float32
  var kernel = MatrixKernel.best
  var fmaPeak: Double?
  var accumulatingFMAPeak: Double?
  var fineTuneIterations = FineTuneCases.defaultIterationCount
  /// The values of `--weights` and `--precision`.
  static let residencyNames: [String: WeightResidency] = ["mapped": .mappedFile, "memory": .memory]
  static let precisionNames: [String: GEMMPrecision] = ["fp32": .float32, "bf16": .bfloat16]
  static let kernelNames: [String: MatrixKernel] = Dictionary(
    uniqueKeysWithValues: MatrixKernel.allCases.map { ($0.description, $0) })

  static let usage = """
    usage: bld-bench [--filter SUBSTRING] [--repeat N] [--threads N] [--model DIR] [--weights mapped|memory]
                     [--precision fp32|bf16] [--kernel avx512|avx2|blas] [--iterations N] [--list]
      --filter S   run only cases whose name contains S (the sgemm peak is measured only when a selected
                 case is GEMM-backed)
      --repeat N   timed runs per case after one warm-up run (default 5); median reported
      --threads N  ComputeOptions.withThreadCount(N) (OpenBLAS and TensorCore loops)
      --model DIR  diffusers folder for the model cases (text-encoder, unet-b2-32/64, vae-encode/decode-256/512,
                 edit-512)
      --weights W  where the model cases keep weights: mapped (default, paged in per layer from the mapped
                 files, as StableDiffusionModel(directory:) does) or memory (copied at load)
      --precision P  matrix products in fp32 (default) or bf16 (ComputeOptions.withMatrixPrecision)
      --kernel K   GEMM micro-kernel family (ComputeOptions.withMatrixKernel; default: the widest this CPU has)
      --iterations N  iterations of each finetune-* case's timed call (default 2; 75 times the paper's whole
                 reconstruction of one image)

    The first line describes the machine (CPU model, instruction sets, caches, CPUs this process may use,
    GEMM blocking) with the measured FMA peak of the selected threads (also the `fma-peak` case), plain and
    with each result summed into the next FMA as a GEMM does; every GFLOP/s figure is also printed as
    `fraction_of_fma_peak` and `fraction_of_accumulating_fma_peak`.
      --list       print the case names
    internal: --case NAME [--sgemm-peak GFLOPS --sgemm-best-peak GFLOPS --fma-peak GFLOPS
              --accumulating-fma-peak GFLOPS] runs one case here
    """

  init(arguments: [String]) throws(BenchError) {
    var iterator = arguments.makeIterator()
    func value(_ flag: String) throws(BenchError) -> String {
      guard let next = iterator.next() else { throw .missingValue(flag) }
      return next
    }
    func integer(_ flag: String) throws(BenchError) -> Int {
      let text = try value(flag)
      guard let number = Int(text), number >= 1 else { throw .invalidValue(flag, text) }
      return number
    }
    func choice<T>(_ flag: String, _ values: [String: T]) throws(BenchError) -> T {
      let text = try value(flag)
      guard let chosen = values[text] else { throw .invalidValue(flag, text) }
      return chosen
    }
    while let argument = iterator.next() {
      switch argument {
      case "--filter": filter = try value(argument)
      case "--repeat": repeatCount = try integer(argument)
      case "--threads": threads = try integer(argument)
      case "--case": singleCase = try value(argument)
      case "--model": modelDirectory = try value(argument)
      case "--weights": residency = try choice(argument, Self.residencyNames)
      case "--precision": precision = try choice(argument, Self.precisionNames)
      case "--kernel":
        kernel = try choice(argument, Self.kernelNames)
        guard kernel.isSupported else { throw .invalidValue(argument, "\(kernel) (not supported by this CPU)") }
      case "--iterations": fineTuneIterations = try integer(argument)
      case "--list": list = true
      case "--sgemm-peak", "--sgemm-best-peak", "--fma-peak", "--accumulating-fma-peak":
        let text = try value(argument)
        guard let peak = Double(text) else { throw .invalidValue(argument, text) }
        switch argument {
        case "--sgemm-peak": sgemmPeak = peak
        case "--sgemm-best-peak": sgemmBestPeak = peak
        case "--fma-peak": fmaPeak = peak
        default: accumulatingFMAPeak = peak
        }
      case "-h", "--help": throw .help
      default: throw .unknownOption(argument)
      }
    }
  }
}

/// Why the benchmark could not run.
enum BenchError: Error, CustomStringConvertible {
  case help
  case missingValue(String)
  case invalidValue(String, String)
  case unknownOption(String)
  case unknownCase(String)
  case childFailed(String, Int32, String)

  var description: String {
    switch self {
    case .help: BenchOptions.usage
    case .missingValue(let flag): "\(flag) needs a value\n\(BenchOptions.usage)"
    case .invalidValue(let flag, let text): "invalid value '\(text)' for \(flag)"
    case .unknownOption(let option): "unknown option '\(option)'\n\(BenchOptions.usage)"
    case .unknownCase(let name): "no benchmark case named '\(name)'"
    case .childFailed(let name, let status, let output): "case \(name) failed (exit \(status)): \(output)"
    }
  }
}

/// Runs one case in this process and returns its JSON line.
func runCase(_ benchmark: BenchmarkCase, options: BenchOptions) throws -> String {
  let baseline = ProcessMemory.residentMB
  let body = try benchmark.prepare()
  var times: [Double] = []
  var cpuTimes: [Double] = []
  ComputeOptions.withMatrixKernel(options.kernel) {
    ComputeOptions.withMatrixPrecision(options.precision) {
      if benchmark.warmUp { body() }
      for _ in 0..<options.repeatCount {
        let cpuStart = processCPUSeconds()
        let start = monotonicSeconds()
        body()
        times.append(monotonicSeconds() - start)
        cpuTimes.append(processCPUSeconds() - cpuStart)
      }
    }
  }
  let seconds = median(times)
  var line = JSONLine()
  line.append("case", .string(benchmark.name))
  line.append("median_s", .number(seconds))
  line.append("min_s", .number(times.min() ?? seconds))
  line.append("cpu_s", .number(median(cpuTimes)))
  let gflops = benchmark.flops.map { $0 / seconds / 1e9 }
  line.append("gflops", gflops.map { .number($0) } ?? .null)
  let bestGFLOPS = benchmark.flops.map { $0 / (times.min() ?? seconds) / 1e9 }
  line.append("best_gflops", bestGFLOPS.map { .number($0) } ?? .null)
  if let gflops, let fmaPeak = options.fmaPeak, fmaPeak > 0 {
    line.append("fraction_of_fma_peak", .number(gflops / fmaPeak))
  }
  if let gflops, let peak = options.accumulatingFMAPeak, peak > 0 {
    line.append("fraction_of_accumulating_fma_peak", .number(gflops / peak))
  }
  line.append("peak_rss_mb", ProcessMemory.peakResidentMB.map { .number($0) } ?? .null)
  line.append("baseline_rss_mb", baseline.map { .number($0) } ?? .null)
  if benchmark.isGEMMBacked, let gflops, let peak = options.sgemmPeak, peak > 0 {
    line.append("fraction_of_sgemm_peak", .number(gflops / peak))
    line.append("sgemm_peak_gflops", .number(peak))
    if let bestGFLOPS, let bestPeak = options.sgemmBestPeak, bestPeak > 0 {
      line.append("fraction_of_sgemm_peak_best", .number(bestGFLOPS / bestPeak))
    }
  }
  let fields = benchmark.extraFields.merging(benchmark.dynamicFields()) { _, new in new }
  for (key, value) in fields.sorted(by: { $0.key < $1.key }) { line.append(key, value) }
  line.append("warm_up_runs", .integer(benchmark.warmUp ? 1 : 0))
  line.append("threads", .integer(ComputeOptions.threadCount))
  line.append("kernel", .string(options.kernel.description))
  line.append("precision", .string(options.precision == .bfloat16 && PackedGEMM.supportsBFloat16 ? "bf16" : "fp32"))
  line.append("repeat", .integer(options.repeatCount))
  return line.encoded
}

/// Runs `name` in a child process of this executable and returns its JSON line.
func runChild(_ name: String, options: BenchOptions, sgemmPeak: Double?, sgemmBestPeak: Double? = nil) throws -> String
{
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
  var arguments = ["--case", name, "--repeat", String(options.repeatCount)]
  if let threads = options.threads { arguments += ["--threads", String(threads)] }
  if let model = options.modelDirectory { arguments += ["--model", model] }
  arguments += ["--weights", BenchOptions.residencyNames.first { $0.value == options.residency }!.key]
  arguments += ["--precision", BenchOptions.precisionNames.first { $0.value == options.precision }!.key]
  arguments += ["--kernel", options.kernel.description]
  arguments += ["--iterations", String(options.fineTuneIterations)]
  if let fmaPeak = options.fmaPeak { arguments += ["--fma-peak", String(fmaPeak)] }
  if let peak = options.accumulatingFMAPeak { arguments += ["--accumulating-fma-peak", String(peak)] }
  if let sgemmPeak { arguments += ["--sgemm-peak", String(sgemmPeak)] }
  if let sgemmBestPeak { arguments += ["--sgemm-best-peak", String(sgemmBestPeak)] }
  process.arguments = arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  let output = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  guard process.terminationStatus == 0, let last = output.split(separator: "\n").last else {
    throw BenchError.childFailed(name, process.terminationStatus, output)
  }
  return String(last)
}

func main() -> Int32 {
  AllocatorTuning.keepLargeBuffersInHeap()  // as `bld` does: the figures are those users see
  do {
    let options = try BenchOptions(arguments: Array(CommandLine.arguments.dropFirst()))
    return try ComputeOptions.withThreadCount(options.threads ?? 0) { try run(options) }
  } catch let error as BenchError {
    if case .help = error {
      print(error.description)
      return 0
    }
    FileHandle.standardError.write(Data("bld-bench: \(error.description)\n".utf8))
    return 1
  } catch {
    FileHandle.standardError.write(Data("bld-bench: \(error)\n".utf8))
    return 1
  }
}

/// Runs the selected cases (in child processes) or the one case `--case` names.
func run(_ parsed: BenchOptions) throws -> Int32 {
  var options = parsed
  let cases = BenchmarkRegistry.allCases(
    context: BenchmarkContext(
      modelDirectory: options.modelDirectory, residency: options.residency,
      fineTuneIterations: options.fineTuneIterations))
  if options.list {
    print(MachineReport.fmaPeakCase)
    for benchmark in cases { print(benchmark.name) }
    return 0
  }
  if let name = options.singleCase {
    guard let benchmark = cases.first(where: { $0.name == name }) else { throw BenchError.unknownCase(name) }
    print(try runCase(benchmark, options: options))
    return 0
  }
  let selected = cases.filter { options.filter.map($0.name.contains) ?? !$0.runsOnlyWhenNamed }
  let fmaPeakSelected = options.filter.map(MachineReport.fmaPeakCase.contains) ?? true
  // The machine line first: every figure below is read against it.
  let machine = MachineReport.measure(kernel: options.kernel)
  options.fmaPeak = machine.fmaPeakGFLOPS
  options.accumulatingFMAPeak = machine.accumulatingFMAPeakGFLOPS
  print(machine.line)
  if fmaPeakSelected { print(machine.caseLine) }
  fflush(nil)
  // The peak: the faster of TensorCore's sgemm-2048 and the raw cblas call, measured now.
  var peak: Double = 0
  var bestPeak: Double = 0
  var peakLines: [String: String] = [:]
  // Skipped when no selected case reports a fraction of it (model cases), so `--filter unet-b2-64` runs
  // only that case.
  let needsPeak = selected.contains { $0.isGEMMBacked }
  for name in [BenchmarkRegistry.sgemmPeakCase, BenchmarkRegistry.sgemmPeakCase + "-cblas"] where needsPeak {
    let line = try runChild(name, options: options, sgemmPeak: nil)
    peakLines[name] = line
    peak = max(peak, JSONLine.number("gflops", in: line) ?? 0)
    bestPeak = max(bestPeak, JSONLine.number("best_gflops", in: line) ?? 0)
  }
  for benchmark in selected {
    var line: String
    if let measured = peakLines[benchmark.name] {
      // Already run for the peak: add its own fraction instead of running it again.
      let gflops = JSONLine.number("gflops", in: measured) ?? 0
      line =
        String(measured.dropLast())
        + ",\"fraction_of_sgemm_peak\":\(JSONValue.number(gflops / peak).encoded)"
        + ",\"sgemm_peak_gflops\":\(JSONValue.number(peak).encoded)"
        + ",\"fraction_of_sgemm_peak_best\":\(JSONValue.number((JSONLine.number("best_gflops", in: measured) ?? 0) / bestPeak).encoded)"
      if benchmark.name == BenchmarkRegistry.sgemmPeakCase, let raw = peakLines[benchmark.name + "-cblas"],
        let rawGFLOPS = JSONLine.number("gflops", in: raw), rawGFLOPS > 0
      {
        // TensorCore's matmul against the raw cblas_sgemm call measured in this run.
        line += ",\"fraction_of_cblas\":\(JSONValue.number(gflops / rawGFLOPS).encoded)"
      }
      line += "}"
    } else {
      line = try runChild(benchmark.name, options: options, sgemmPeak: peak, sgemmBestPeak: bestPeak)
    }
    print(line)
    fflush(nil)
  }
  return 0
}

exit(main())
