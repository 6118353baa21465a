import Foundation
import TensorCore

/// The machine every figure of a run is read against: CPU model, instruction sets, caches, the CPUs this
/// process may use, the GEMM plan, and the measured FMA peak of the run's threads (the `fma-peak` case), also with
/// the chains summing into the addend as a GEMM does (`ProcessorDescription.FMAChain.accumulating`).
struct MachineReport {
  /// The case name under which the FMA peak is also printed (and matched by `--filter`).
  static let fmaPeakCase = "fma-peak"

  let processor: ProcessorDescription
  let threads: Int
  let kernel: MatrixKernel
  /// FMA throughput of `threads` threads at once, with the vectors of `kernel` (GFLOP/s).
  let fmaPeakGFLOPS: Double
  /// The same, one thread alone.
  let singleThreadFMAPeakGFLOPS: Double
  /// FMA throughput of `threads` threads at once with each chain's result as the next addend, as a GEMM
  /// micro-kernel sums its products: the most a GEMM can reach on this CPU (GFLOP/s).
  let accumulatingFMAPeakGFLOPS: Double
  /// The same, one thread alone.
  let singleThreadAccumulatingFMAPeakGFLOPS: Double

  /// Reads the CPU and measures both FMA peaks (about a second and a half).
  static func measure(kernel: MatrixKernel) -> MachineReport {
    let processor = ProcessorDescription.current
    let threads = ComputeOptions.threadCount
    func peaks(_ chain: ProcessorDescription.FMAChain) -> (all: Double, single: Double) {
      let single = processor.measuredFMAPeak(threads: 1, kernel: kernel, chain: chain, seconds: 0.3)
      let all =
        threads == 1 ? single : processor.measuredFMAPeak(threads: threads, kernel: kernel, chain: chain, seconds: 0.4)
      return (all, single)
    }
    let (scaling, accumulating) = (peaks(.scaling), peaks(.accumulating))
    return MachineReport(
      processor: processor, threads: threads, kernel: kernel, fmaPeakGFLOPS: scaling.all,
      singleThreadFMAPeakGFLOPS: scaling.single, accumulatingFMAPeakGFLOPS: accumulating.all,
      singleThreadAccumulatingFMAPeakGFLOPS: accumulating.single)
  }

  /// The `{"machine": …}` line.
  var line: String {
    let blocking = processor.gemmBlocking(for: kernel)
    var line = JSONLine()
    line.append("machine", .string(processor.summary))
    line.append("cpu_model", .string(processor.modelName))
    line.append("vendor", .string(processor.vendor))
    line.append("family", .integer(processor.family))
    line.append("model", .integer(processor.model))
    line.append("isa", .string(processor.instructionSets.joined(separator: " ")))
    line.append("l1d_kib", .integer(processor.l1DataBytes >> 10))
    line.append("l2_kib", .integer(processor.l2Bytes >> 10))
    line.append("l3_mib", .integer(processor.l3Bytes >> 20))
    line.append("affinity_cpus", .integer(processor.affinityCPUs))
    line.append("cpu_quota", processor.cpuQuota.map { .integer($0) } ?? .null)
    line.append("default_threads", .integer(ComputeOptions.defaultThreadCount))
    line.append("threads", .integer(threads))
    line.append("kernel", .string(kernel.description))
    line.append("gemm_tile", .string("\(blocking.tileRows)x\(blocking.tileColumns)"))
    line.append("gemm_kc_mc_nc", .string("\(blocking.kc)/\(blocking.mc)/\(blocking.nc)"))
    line.append("fma_peak_gflops", .number(fmaPeakGFLOPS))
    line.append("fma_peak_gflops_per_thread", .number(singleThreadFMAPeakGFLOPS))
    line.append("fma_accumulating_peak_gflops", .number(accumulatingFMAPeakGFLOPS))
    line.append("fma_accumulating_peak_gflops_per_thread", .number(singleThreadAccumulatingFMAPeakGFLOPS))
    return line.encoded
  }

  /// The `fma-peak` case line.
  var caseLine: String {
    var line = JSONLine()
    line.append("case", .string(Self.fmaPeakCase))
    line.append("gflops", .number(fmaPeakGFLOPS))
    line.append("gflops_one_thread", .number(singleThreadFMAPeakGFLOPS))
    line.append("gflops_accumulating", .number(accumulatingFMAPeakGFLOPS))
    line.append("fraction_of_fma_peak", .number(1))
    line.append("threads", .integer(threads))
    line.append("kernel", .string(kernel.description))
    line.append("cpu", .string(processor.modelName))
    return line.encoded
  }
}
