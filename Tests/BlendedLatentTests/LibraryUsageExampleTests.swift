import BlendedLatent
import Foundation
import Networks
import Testing
import _TestSupport

/// The README's "Library usage" snippet, compiled and run on a tiny model folder so it cannot drift
/// (`DocumentationTests/SnippetTests` checks that the block below is the README's, line for line).
@Suite("README library usage")
struct LibraryUsageExampleTests {
  @Test func readmeSnippetEditsAnImage() throws {
    let modelURL = RepositoryFixtures.tinyModel("sd2-tiny")
    let folder = RepositoryFixtures.endToEndCase("sd2-ddim")
    let photoURL = folder.appendingPathComponent("image.png")
    let maskURL = folder.appendingPathComponent("mask.png")
    let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID().uuidString).png")
    defer { try? FileManager.default.removeItem(at: outputURL) }

    // snippet: README.md #1
    let model = try StableDiffusionModel(directory: ModelDirectory(root: modelURL))
    let editor = try BlendedLatentEditor(model: model)
    let request = EditRequest(
      image: try RGBImage(contentsOf: photoURL).tensor(),  // [3, H, W] in [0, 1]
      mask: try RGBImage(contentsOf: maskURL).luminanceTensor(),  // [H, W], white = edit
      prompt: "a wooden rowing boat on the lake", stepCount: 50, guidanceScale: 7.5, strength: 0.75,
      seed: 42, background: .paste(featherRadius: 0))
    let result = try editor.edit(request) { progress in
      print("\(progress.phase) \(progress.completed)/\(progress.total)")
      return .proceed  // .stop cancels
    }
    try RGBImage(tensor: result.images[0]).pngData().write(to: outputURL)
    // end of snippet

    let written = try RGBImage(contentsOf: outputURL)
    #expect(written.width == 32 && written.height == 32)
    #expect(result.denoisingStepCount == 37)
  }
}
