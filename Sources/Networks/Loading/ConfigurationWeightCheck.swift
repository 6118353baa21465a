import Foundation
import TensorCore

/// A cheap check, before any network is allocated, that a model folder's configurations describe the tensors in
/// its weight files: the numbers the networks are sized by (`block_out_channels`, `in_channels`,
/// `cross_attention_dim`, `latent_channels`, `hidden_size`, `vocab_size`, `layers_per_block`,
/// `num_hidden_layers`, …) are compared with a few tensors' shapes read from the safetensors headers (no tensor
/// data is read).
///
/// Only what the headers show is compared: a weight file that is missing or unreadable, or a tensor that is absent
/// or of another rank, is left to the strict loader, which reports it with its key. A configuration that asks for
/// more layers than the file has is refused here (the last layer's tensor is missing), so that a hostile
/// `num_hidden_layers` or `layers_per_block` never allocates.
enum ConfigurationWeightCheck {
  /// One number of a configuration and where the weights show it.
  struct Expectation {
    /// The configuration field, in its JSON spelling (`block_out_channels`).
    var field: String
    /// The field's value as written (`[32, 64]`).
    var value: String
    /// The tensor key (canonical: after the component's renaming).
    var key: String
    /// The dimensions of the tensor the field decides, by index; empty when only the tensor's presence is checked.
    var dimensions: [Int: Int]
  }

  /// Checks every component of a folder whose weight files can be opened.
  /// - Throws: ``ModelLoadingError`` with `ConfigurationError.contradictedByWeights` naming the component's
  ///   `config.json`, the field, the tensor, the weight file and both shapes.
  static func check(_ configurations: ModelConfigurations, directory: ModelDirectory) throws(ModelLoadingError) {
    let folder = directory.root.path
    try check(
      unetExpectations(configurations.unet), files: try? directory.unetWeights(), renaming: .identity,
      configuration: directory.unetConfiguration.path, component: "unet", folder: folder)
    try check(
      autoencoderExpectations(configurations.vae), files: try? directory.vaeWeights(), renaming: .autoencoderKL,
      configuration: directory.vaeConfiguration.path, component: "vae", folder: folder)
    try check(
      textEncoderExpectations(configurations.textEncoder), files: try? directory.textEncoderWeights(),
      renaming: .clipTextModel, configuration: directory.textEncoderConfiguration.path, component: "text_encoder",
      folder: folder)
    if let second = configurations.secondTextEncoder {
      try check(
        textEncoderExpectations(second, projection: true), files: try? directory.secondTextEncoderWeights(),
        renaming: .identity, configuration: directory.secondTextEncoderConfiguration.path,
        component: "text_encoder_2", folder: folder)
    }
  }

  /// Compares one component's expectations with the shapes in its files' headers.
  static func check(
    _ expectations: [Expectation], files: WeightFiles?, renaming: KeyRenaming, configuration: String,
    component: String, folder: String
  ) throws(ModelLoadingError) {
    guard let files else { return }
    var shapes: [String: (shape: [Int], file: String)] = [:]
    for url in files.urls {
      guard let file = try? SafetensorsFile(contentsOf: url) else { return }
      let canonical = renaming.canonicalKeys(for: file.tensorNames)
      for (name, entry) in file.entries { shapes[canonical[name] ?? name] = (entry.shape, url.path) }
    }
    let weights = files.urls.count == 1 ? files.urls[0].path : files.description
    for expectation in expectations {
      let found = shapes[expectation.key]
      if expectation.dimensions.isEmpty {
        guard found == nil else { continue }
        throw ModelLoadingError(
          folder: folder, component: component,
          cause: .configuration(
            .contradictedByWeights(
              file: configuration, field: expectation.field, value: expectation.value, key: expectation.key,
              weights: weights, expected: nil, found: nil)))
      }
      guard let found, let largest = expectation.dimensions.keys.max(), largest < found.shape.count else { continue }
      var expected = found.shape
      for (index, size) in expectation.dimensions { expected[index] = size }
      guard expected != found.shape else { continue }
      throw ModelLoadingError(
        folder: folder, component: component,
        cause: .configuration(
          .contradictedByWeights(
            file: configuration, field: expectation.field, value: expectation.value, key: expectation.key,
            weights: found.file, expected: expected, found: found.shape)))
    }
  }

  /// The UNet's: `conv_in`, `conv_out`, each down block's first resnet, its first cross-attention's key
  /// projection, and its last resnet (`layers_per_block`).
  static func unetExpectations(_ configuration: UNetConfiguration) -> [Expectation] {
    let channels = configuration.blockOutChannels
    guard let first = channels.first else { return [] }
    let channelsText = "\(channels)"
    var expectations = [
      Expectation(
        field: "in_channels", value: "\(configuration.inChannels)", key: "conv_in.weight",
        dimensions: [1: configuration.inChannels]),
      Expectation(field: "block_out_channels", value: channelsText, key: "conv_in.weight", dimensions: [0: first]),
      Expectation(
        field: "out_channels", value: "\(configuration.outChannels)", key: "conv_out.weight",
        dimensions: [0: configuration.outChannels]),
    ]
    let widths = configuration.resolvedCrossAttentionWidths
    let layers = configuration.resolvedLayersPerBlock
    for (block, type) in configuration.downBlockTypes.enumerated() where block < channels.count {
      expectations.append(
        Expectation(
          field: "block_out_channels", value: channelsText, key: "down_blocks.\(block).resnets.0.conv1.weight",
          dimensions: [0: channels[block]]))
      if type.hasPrefix("CrossAttn"), block < widths.count {
        expectations.append(
          Expectation(
            field: "cross_attention_dim", value: written(configuration.crossAttentionDim),
            key: "down_blocks.\(block).attentions.0.transformer_blocks.0.attn2.to_k.weight",
            dimensions: [1: widths[block]]))
      }
      if block < layers.count, layers[block] > 0 {
        expectations.append(
          Expectation(
            field: "layers_per_block", value: written(configuration.layersPerBlock),
            key: "down_blocks.\(block).resnets.\(layers[block] - 1).conv1.weight", dimensions: [:]))
      }
    }
    return expectations
  }

  /// A per-block value as the JSON writes it: `1024` or `[320, 640]`.
  static func written<Value>(_ value: PerBlock<Value>) -> String {
    switch value {
    case .uniform(let single): "\(single)"
    case .perBlock(let values): "\(values)"
    }
  }

  /// The VAE's: the encoder's `conv_in`, each encoder down block's first and last resnet, and the decoder's
  /// `conv_in` (`latent_channels`).
  static func autoencoderExpectations(_ configuration: AutoencoderKLConfiguration) -> [Expectation] {
    let channels = configuration.blockOutChannels
    guard let first = channels.first, let last = channels.last else { return [] }
    let channelsText = "\(channels)"
    var expectations = [
      Expectation(
        field: "in_channels", value: "\(configuration.inChannels)", key: "encoder.conv_in.weight",
        dimensions: [1: configuration.inChannels]),
      Expectation(
        field: "block_out_channels", value: channelsText, key: "encoder.conv_in.weight", dimensions: [0: first]),
      Expectation(
        field: "block_out_channels", value: channelsText, key: "decoder.conv_in.weight", dimensions: [0: last]),
    ]
    if let latent = configuration.latentChannels {
      expectations.append(
        Expectation(
          field: "latent_channels", value: "\(latent)", key: "decoder.conv_in.weight", dimensions: [1: latent]))
    }
    let layers = configuration.layersPerBlock ?? 1
    for block in channels.indices {
      expectations.append(
        Expectation(
          field: "block_out_channels", value: channelsText, key: "encoder.down_blocks.\(block).resnets.0.conv1.weight",
          dimensions: [0: channels[block]]))
      if layers > 0 {
        expectations.append(
          Expectation(
            field: "layers_per_block", value: "\(layers)",
            key: "encoder.down_blocks.\(block).resnets.\(layers - 1).conv1.weight", dimensions: [:]))
      }
    }
    return expectations
  }

  /// A CLIP text encoder's: the token and position embeddings, the first layer's MLP, the last layer
  /// (`num_hidden_layers`), and with `projection` the text projection.
  static func textEncoderExpectations(_ configuration: CLIPTextConfiguration, projection: Bool = false)
    -> [Expectation]
  {
    let hidden = configuration.hiddenSize
    let embeddings = "text_model.embeddings."
    var expectations = [
      Expectation(
        field: "hidden_size", value: "\(hidden)", key: embeddings + "token_embedding.weight", dimensions: [1: hidden]),
      Expectation(
        field: "vocab_size", value: "\(configuration.vocabSize)", key: embeddings + "token_embedding.weight",
        dimensions: [0: configuration.vocabSize]),
      Expectation(
        field: "max_position_embeddings", value: "\(configuration.maxPositionEmbeddings)",
        key: embeddings + "position_embedding.weight", dimensions: [0: configuration.maxPositionEmbeddings]),
      Expectation(
        field: "intermediate_size", value: "\(configuration.intermediateSize)",
        key: "text_model.encoder.layers.0.mlp.fc1.weight", dimensions: [0: configuration.intermediateSize]),
    ]
    if configuration.numHiddenLayers > 0 {
      expectations.append(
        Expectation(
          field: "num_hidden_layers", value: "\(configuration.numHiddenLayers)",
          key: "text_model.encoder.layers.\(configuration.numHiddenLayers - 1).layer_norm1.weight", dimensions: [:]))
    }
    if projection, let width = configuration.projectionDim {
      expectations.append(
        Expectation(field: "projection_dim", value: "\(width)", key: "text_projection.weight", dimensions: [0: width]))
    }
    return expectations
  }
}
