import BlendedLatent
import Foundation
import TensorCore
import Testing

@Suite("Scheduler configuration and typed errors")
struct SchedulerConfigurationTests {
  @Test func decodesAStableDiffusionConfig() throws {
    let json = """
      {"_class_name": "PNDMScheduler", "_diffusers_version": "0.8.0", "beta_end": 0.012,
       "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false, "num_train_timesteps": 1000,
       "prediction_type": "v_prediction", "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
       "trained_betas": null}
      """
    let configuration = try SchedulerConfiguration.decode(Data(json.utf8))
    // Every field the file sets, decoded; the ones it leaves out stay nil (the schedulers apply diffusers'
    // defaults, e.g. timestep_spacing "leading").
    #expect(configuration.numTrainTimesteps == 1000)
    #expect(configuration.betaStart == 0.00085)
    #expect(configuration.betaEnd == 0.012)
    #expect(configuration.betaSchedule == "scaled_linear")
    #expect(configuration.clipSample == false)
    #expect(configuration.predictionType == "v_prediction")
    #expect(configuration.setAlphaToOne == false)
    #expect(configuration.stepsOffset == 1)
    #expect(configuration.trainedBetas == nil)
    #expect(configuration.timestepSpacing == nil)
    #expect(configuration.thresholding == nil)

    let ddim = try DDIMScheduler(configuration: configuration, stepCount: 50)
    // diffusers DDIMScheduler.set_timesteps(50), "leading" spacing, steps_offset 1: 981, 961, …, 21, 1.
    #expect(ddim.integerTimesteps == Array(stride(from: 981, through: 1, by: -20)))
    #expect(ddim.stepRatio == 20)
    #expect(ddim.predictionType == .vPrediction)
    // scaled_linear: betas = linspace(√0.00085, √0.012, 1000)², ᾱ = cumprod(1 − β); the float32 values
    // diffusers 0.42 / torch 2.15 give (alphas_cumprod[0], [980], [999], from schedulers/cases.json).
    let alphas = ddim.schedule.alphasCumprod
    #expect(alphas.count == 1000)
    #expect(abs(alphas[0] - 0.99915) <= 1e-7)
    #expect(abs(alphas[980] - 0.0058437791) <= 1e-6 * 0.0058437791)
    #expect(abs(alphas[999] - 0.0046600951) <= 1e-6 * 0.0046600951)
    // set_alpha_to_one false: the level after the last step is alphas_cumprod[0].
    #expect(ddim.finalAlphaCumprod == alphas[0])
    // The same configuration at 7 steps: step ratio 1000 / 7 = 142, timesteps 6·142 + 1, …, 0·142 + 1.
    let seven = try DDIMScheduler(configuration: configuration, stepCount: 7)
    #expect(seven.integerTimesteps == [853, 711, 569, 427, 285, 143, 1])
  }

  @Test func unsupportedValuesAreTypedErrors() throws {
    func expectUnsupported(_ configuration: SchedulerConfiguration, _ field: String, kind: SchedulerKind = .ddim()) {
      do {
        _ = try kind.makeScheduler(configuration: configuration, stepCount: 10)
        Issue.record("expected \(field) to be rejected")
      } catch {
        if case .unsupported(let found, _, _) = error { #expect(found == field) } else { Issue.record("\(error)") }
      }
    }
    var configuration = SchedulerConfiguration.stableDiffusion
    configuration.betaSchedule = "squaredcos_cap_v2"
    expectUnsupported(configuration, "beta_schedule")
    configuration = .stableDiffusion
    configuration.predictionType = "sample"
    expectUnsupported(configuration, "prediction_type", kind: .eulerDiscrete)
    configuration = .stableDiffusion
    configuration.timestepSpacing = "sideways"
    expectUnsupported(configuration, "timestep_spacing", kind: .dpmSolverMultistep)
    configuration = .stableDiffusion
    configuration.solverOrder = 3
    expectUnsupported(configuration, "solver_order", kind: .dpmSolverMultistep)
    configuration = .stableDiffusion
    configuration.thresholding = true
    expectUnsupported(configuration, "thresholding")
  }

  @Test func unreadableConfigurationNamesTheFile() {
    do {
      _ = try SchedulerConfiguration.decode(
        Data("{\"num_train_timesteps\": \"many\"}".utf8), file: "x/scheduler_config.json")
      Issue.record("expected an error")
    } catch {
      if case .unreadableConfiguration(let file, _) = error { #expect(file == "x/scheduler_config.json") }
      #expect(error.description.contains("scheduler_config.json"))
    }
    #expect(throws: SchedulerError.self) {
      try SchedulerConfiguration.decode(contentsOf: URL(fileURLWithPath: "/nonexistent/scheduler_config.json"))
    }
  }

  @Test func ddimLevelAfterTheLastStepUsesFinalAlpha() throws {
    var configuration = SchedulerConfiguration.stableDiffusion
    configuration.timestepSpacing = "trailing"
    let ddim = try DDIMScheduler(configuration: configuration, stepCount: 10)
    // trailing: 999, 899, …, 99; the step ratio is 100, so the level after the last step is final_alpha_cumprod.
    #expect(ddim.integerTimesteps == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99])
    #expect(ddim.alphaCumprod(at: .afterStep(9)) == ddim.finalAlphaCumprod)
    #expect(ddim.alphaCumprod(at: .afterStep(0)) == ddim.schedule.alphasCumprod[899])
    configuration.setAlphaToOne = true
    #expect(try DDIMScheduler(configuration: configuration, stepCount: 10).finalAlphaCumprod == 1)
  }
}

@Suite("SchedulerKind names")
struct SchedulerKindTests {
  @Test func namesRoundTrip() {
    for kind in [SchedulerKind.ddim(eta: 0), .dpmSolverMultistep, .eulerDiscrete, .eulerAncestralDiscrete] {
      #expect(SchedulerKind(name: kind.name) == kind)
    }
    #expect(SchedulerKind(name: "DDIM", eta: 0.5) == .ddim(eta: 0.5))
    #expect(SchedulerKind(name: "euler-a") == .eulerAncestralDiscrete)
    #expect(SchedulerKind(name: "pndm") == nil)
  }
}
