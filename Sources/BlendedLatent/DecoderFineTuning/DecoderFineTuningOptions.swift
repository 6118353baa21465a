/// The settings of a decoder fine-tune; the defaults are the paper's (`Documentation/Method.md`, "Background reconstruction").
public struct DecoderFineTuningOptions: Sendable, Equatable {
  /// Adam iterations (75 in the paper).
  public var iterationCount: Int
  /// Adam's learning rate (1e-4 in the paper).
  public var learningRate: Float
  /// `λ`, the weight of the background term of the loss (100 in the paper).
  public var backgroundWeight: Float
  /// Adam's `β₁` (0.9).
  public var beta1: Float
  /// Adam's `β₂` (0.999).
  public var beta2: Float
  /// Adam's `ε` (1e-8).
  public var epsilon: Float
  /// Optimise only a crop around the mask: its bounding box grown by this many latent pixels on each side.
  /// Pixels outside the box grown by half the margin are the original's, exactly. nil optimises the whole image.
  /// The crop is taken at the input of the first trained block: with `trainedUpBlockCount` the frozen prefix
  /// (including the mid block's global attention) runs on the whole latent and its output is cropped; without it
  /// the latent itself is cropped, so the attention sees only the crop. The trained blocks' group norms use the
  /// statistics they have on the whole image, computed once with the pretrained weights and then held constant, so
  /// before any training the crop decodes exactly as `D(z)` does away from the crop's border.
  public var cropMargin: Int?
  /// Train only the last this-many up blocks and the output head; the frozen prefix is computed once.
  /// nil trains every decoder parameter.
  public var trainedUpBlockCount: Int?
  /// Whether the input group norm (`norm1`, 2·C parameters) of the first trained block is trained, when that block
  /// is a resnet (as the first block of an up block is). With a frozen prefix, not training it lets each backward
  /// pass stop at that resnet's first convolution's weight gradient: its input gradient (a 3×3 convolution at the
  /// highest trained resolution) and the norm's backward pass are skipped. true trains every parameter of the
  /// trained blocks.
  public var trainsFirstBlockInputNorm: Bool
  /// The most bytes of forward activations a training step keeps for its backward pass, estimated from the shapes
  /// before running. Blocks whose activations do not fit are recomputed from their input in the backward pass
  /// (checkpointing: about one more forward pass per iteration); 0 recomputes every block. The default,
  /// `defaultActivationMemoryBudget` (6 GB), holds everything at 512×512 (≈ 2.4 GB, see
  /// `Documentation/DecoderFineTuning.md`).
  public var activationMemoryBudget: Int

  /// The default `activationMemoryBudget`: 6 GB (6·10⁹ bytes).
  public static let defaultActivationMemoryBudget = 6_000_000_000

  /// Creates options; every default is the paper's full mode.
  public init(
    iterationCount: Int = 75, learningRate: Float = 1e-4, backgroundWeight: Float = 100, beta1: Float = 0.9,
    beta2: Float = 0.999, epsilon: Float = 1e-8, cropMargin: Int? = nil, trainedUpBlockCount: Int? = nil,
    trainsFirstBlockInputNorm: Bool = true, activationMemoryBudget: Int = defaultActivationMemoryBudget
  ) {
    self.iterationCount = iterationCount
    self.learningRate = learningRate
    self.backgroundWeight = backgroundWeight
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.cropMargin = cropMargin
    self.trainedUpBlockCount = trainedUpBlockCount
    self.trainsFirstBlockInputNorm = trainsFirstBlockInputNorm
    self.activationMemoryBudget = activationMemoryBudget
  }

  /// The paper's mode: every decoder weight, the whole image, 75 iterations.
  public static let paper = DecoderFineTuningOptions()

  /// The fast mode (beyond the paper): train only the last up block and the output head, with the frozen prefix
  /// computed once on the whole latent, and only on a crop around the mask grown by 3 latent pixels (24 image
  /// pixels at f = 8); exact original pixels outside the mask's box grown by 2 latent pixels (16 image pixels).
  /// The 8 pixels between the two are more than the trained part's receptive radius (7 pixels: six resnet
  /// convolutions and `conv_out`), so with the frozen whole-image group-norm statistics every pasted pixel is what
  /// the tuned decoder gives on the whole image. The last up block's first input norm (512 of its ≈ 1.1 M
  /// parameters in Stable Diffusion's VAE) is not trained, which saves one 3×3 convolution's data gradient and a
  /// norm's backward pass per iteration (≈ 5–10 % of it).
  /// See `Documentation/DecoderFineTuning.md` for the measurements behind it.
  public static let fast = DecoderFineTuningOptions(
    cropMargin: 3, trainedUpBlockCount: 1, trainsFirstBlockInputNorm: false)

  /// Checks ranges. - Throws: `DecoderFineTuningError.invalidOption` naming the option.
  func validate() throws(DecoderFineTuningError) {
    guard iterationCount >= 0 else { throw .invalidOption(name: "iterationCount", value: "\(iterationCount)") }
    guard learningRate.isFinite, learningRate >= 0 else {
      throw .invalidOption(name: "learningRate", value: "\(learningRate)")
    }
    guard backgroundWeight.isFinite, backgroundWeight >= 0 else {
      throw .invalidOption(name: "backgroundWeight", value: "\(backgroundWeight)")
    }
    guard (0..<1).contains(beta1) else { throw .invalidOption(name: "beta1", value: "\(beta1)") }
    guard (0..<1).contains(beta2) else { throw .invalidOption(name: "beta2", value: "\(beta2)") }
    guard epsilon.isFinite, epsilon > 0 else { throw .invalidOption(name: "epsilon", value: "\(epsilon)") }
    if let cropMargin, cropMargin < 0 { throw .invalidOption(name: "cropMargin", value: "\(cropMargin)") }
    if let trainedUpBlockCount, trainedUpBlockCount < 1 {
      throw .invalidOption(name: "trainedUpBlockCount", value: "\(trainedUpBlockCount)")
    }
    guard activationMemoryBudget >= 0 else {
      throw .invalidOption(name: "activationMemoryBudget", value: "\(activationMemoryBudget)")
    }
  }
}
