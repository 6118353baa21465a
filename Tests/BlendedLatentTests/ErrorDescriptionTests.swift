import BlendedLatent
import Foundation
import Networks
import TensorCore
import Testing

/// Every public error type prints its one-line `description` as `localizedDescription` too (on Linux the default
/// is a generic sentence naming the type).
@Suite("Public errors are LocalizedError with their one-line description")
struct ErrorDescriptionTests {
  static let errors: [any Error & CustomStringConvertible] = [
    PipelineError.cancelled(.backgroundReconstruction, completed: 3),
    PipelineError.componentFailed(.ranking, underlying: RankingError.emptyBatch),
    ModelLoadingError(
      folder: "/models/x", component: "unet",
      cause: .configuration(.missingField(file: "/models/x/unet/config.json", field: "block_out_channels"))),
    SchedulerError.invalidStepCount(2000, trainTimesteps: 1000),
    DecoderFineTuningError.nonFiniteLoss(iteration: 4),
    PoissonBlendingError.invalidOption(name: "tolerance", value: "-1"),
    ImageFileError.noAlphaChannel(file: "photo.png"),
    RankingError.emptyBatch,
    SafetensorsError.malformedHeader(file: "w.safetensors", reason: "not JSON"),
    WeightLoadingError.missing(key: "conv_in.weight", file: "unet.safetensors"),
    TokenizerError.missingFile(path: "tokenizer/vocab.json"),
    ConfigurationError.missingField(file: "config.json", field: "sample_size"),
  ]

  @Test("localizedDescription is the description, one line, naming what is at fault")
  func localizedDescriptionIsTheDescription() {
    #expect(Self.errors.count == 12)
    for error in Self.errors {
      #expect(error.localizedDescription == error.description, "\(type(of: error))")
      #expect(!error.description.contains("\n") && !error.description.isEmpty, "\(type(of: error))")
    }
    #expect(Self.errors[0].description == "cancelled after 3 decoder fine-tuning iterations")
    #expect(Self.errors[1].description.hasPrefix("ranking failed: "))
    #expect(Self.errors[2].description.contains("(unet)") && Self.errors[2].description.contains("block_out_channels"))
  }
}
