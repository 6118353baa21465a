/// Upper bounds on the numbers of a configuration, checked before any layer is allocated.
///
/// A `config.json` is user input: without bounds, `sample_size: 100000` or `layers_per_block: 1000000000` makes the
/// process allocate terabytes or build layers for minutes before the weights could show the file is wrong. Each bound
/// is far above every published Stable Diffusion 1.x / 2.x / XL and CLIP configuration (SDXL: 10 transformer
/// layers, 2816 input features; OpenCLIP bigG: 32 layers, 1280 wide), and small enough that a model built from
/// it fails on its weights, not on memory.
enum ConfigurationLimits {
  /// Channels of one block, hidden widths, intermediate widths: 16384.
  static let width = 1...16_384
  /// Image or latent channels (`in_channels`, `latent_channels`, `num_channels`): 64.
  static let imageChannels = 1...64
  /// Resolution levels (`block_out_channels` entries): 8.
  static let blockCount = 1...8
  /// Resnets per block and transformer layers per block: 64.
  static let layersPerBlock = 1...64
  /// Text and vision transformer layers: 128.
  static let transformerLayers = 1...128
  /// Attention heads or head widths: 1024.
  static let heads = 1...1_024
  /// UNet latent side (`sample_size`; SD 1.x/2.x: 64, SDXL: 128): 1024.
  static let latentSampleSize = 1...1_024
  /// VAE or vision image side (`sample_size`, `image_size`): 8192 pixels.
  static let imageSampleSize = 1...8_192
  /// Token positions (`max_position_embeddings`): 4096.
  static let positions = 1...4_096
  /// Vocabulary entries: 1 048 576.
  static let vocabulary = 1...1_048_576
  /// Convolution kernel sides: 15.
  static let kernel = 1...15

  /// Throws `ConfigurationError.invalid` naming `field` unless `value` lies in `range`.
  static func check(_ value: Int, in range: ClosedRange<Int>, field: String, file: String) throws(ConfigurationError) {
    guard range.contains(value) else {
      throw .invalid(
        file: file, field: field,
        reason: "\(value) is outside \(range.lowerBound)…\(range.upperBound)")
    }
  }
}
