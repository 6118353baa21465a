import Foundation
import Networks
import TensorCore

// Twins of the `swift` blocks of Sources/Networks/Networks.docc (see SnippetTests). Compiled, not run.
enum NetworksArticleSnippets {
  static func networks1(folderURL: URL, latents: Tensor) throws {
    // snippet: Sources/Networks/Networks.docc/Networks.md #1
    let model = try StableDiffusionModel(directory: ModelDirectory(root: folderURL))
    let context = model.textEmbeddings(for: ["a photo of a cat"])  // [1, 77, hidden]
    let noise = model.unet(latents, timestep: 981, encoderHiddenStates: context)
    let image = model.vae.decode(latents * (1 / model.vae.scalingFactor))
    _ = (noise, image)
  }

  static func loadingWeights1() throws {
    // snippet: Sources/Networks/Networks.docc/LoadingWeights.md #1
    let folder = URL(fileURLWithPath: "/models/sd-2-1-base")
    let model = try StableDiffusionModel(directory: ModelDirectory(root: folder))
    for (component, report) in model.loadReports.sorted(by: { $0.key < $1.key }) {
      print(component, report.tensorCount, "tensors", report.byteCount, "bytes in", report.seconds, "s")
    }
  }

  static func loadingWeights2(folder: URL) throws {
    // snippet: Sources/Networks/Networks.docc/LoadingWeights.md #2
    let directory = ModelDirectory(root: folder)
    let vae = try AutoencoderKL(
      configuration: AutoencoderKLConfiguration.decode(contentsOf: directory.vaeConfiguration))
    let renaming = KeyRenaming(
      replacements: [KeyRenaming.Replacement("first_stage_model.", "")] + KeyRenaming.autoencoderKL.replacements)
    let report = try WeightLoader.load(directory.vaeWeights(), into: vae, renaming: renaming)
    print(report.tensorCount, vae.parameterCount)
  }
}
