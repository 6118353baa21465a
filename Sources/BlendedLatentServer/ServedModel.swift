/// What the routes need to know about the loaded model.
package struct ServedModel: Sendable, Equatable {
  /// The file or folder name it is known by (AUTOMATIC1111's `sd_model_checkpoint`); never a path.
  package var name: String
  /// The resolution it was trained at (512 for SD 1.5 and 2.1-base).
  package var nativeResolution: Int
  /// Working sides are multiples of this (8 for Stable Diffusion).
  package var sizeMultiple: Int

  /// Creates a description.
  package init(name: String, nativeResolution: Int, sizeMultiple: Int) {
    self.name = name
    self.nativeResolution = nativeResolution
    self.sizeMultiple = sizeMultiple
  }
}
