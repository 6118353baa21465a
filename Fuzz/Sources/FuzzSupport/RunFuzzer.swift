import CFuzzDriver
import Foundation

/// Runs libFuzzer's driver with the process's arguments and `test` as the function under test, then exits with
/// the driver's status.
public func runFuzzer(_ test: @escaping @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
  var count = CommandLine.argc
  var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
  exit(LLVMFuzzerRunDriver(&count, &arguments, test))
}
