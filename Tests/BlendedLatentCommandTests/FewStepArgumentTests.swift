import BlendedLatent
import BlendedLatentCommand
import Foundation
import TensorCore
import Testing

/// `--scheduler lcm` and few-step settings as the command parses them.
@Suite("bld edit few-step options")
struct FewStepArgumentTests {
  func parse(_ extra: [String]) throws -> EditCommand {
    try EditCommand.parse(["--image", "a.png", "--mask", "m.png", "--prompt", "x", "--output", "o.png"] + extra)
  }

  @Test func lcmRunsEveryStepAndOthersDropSteps() throws {
    let lcm = try parse(["--scheduler", "lcm", "--steps", "4", "--strength", "0.75", "--guidance", "1"])
    #expect(lcm.settings.stepsRun == 4)
    let request = lcm.settings.editRequest(image: Tensor(shape: [3, 8, 8]), mask: Tensor(shape: [8, 8]), seed: 1)
    #expect(request.scheduler == .lcm && request.keptStepCount == 4 && request.guidanceScale == 1)
    let ddim = try parse(["--scheduler", "ddim", "--steps", "4", "--strength", "0.75"])
    #expect(ddim.settings.stepsRun == 3)
  }

  @Test func lcmStrengthIsCheckedByTheScheduler() throws {
    // Int(4 × 0.2) = 0 steps is a usage error for the img2img rule, but LCM runs all 4 steps at lower noise.
    #expect(throws: (any Error).self) { try parse(["--steps", "4", "--strength", "0.2"]).validate() }
    try parse(["--scheduler", "lcm", "--steps", "4", "--strength", "0.2"]).validate()
  }
}
