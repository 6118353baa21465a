extension LDMKeyTable {
  /// The UNet of an LDM checkpoint (`model.diffusion_model.`, prefix not included): LDM numbers its blocks in one
  /// sequence per half — `input_blocks.0` is `conv_in`, then each down block's layers (`.0` the resnet, `.1` the
  /// attention) and its downsampler (`.0.op`); `middle_block.0/1/2`; each up block's layers in `output_blocks`
  /// (`.0` resnet, `.1` attention) with the upsampler after the last layer's resnet or attention (`.1.conv` or
  /// `.2.conv`) — as diffusers' `convert_ldm_unet_checkpoint` reads them.
  /// - Parameter configuration: the UNet's configuration.
  static func unet(_ configuration: UNetConfiguration) -> LDMKeyTable {
    var rules: [Rule] = [
      Rule(prefix: "conv_in.", ldmPrefix: "input_blocks.0.0.", leaves: .same),
      Rule(prefix: "time_embedding.linear_1.", ldmPrefix: "time_embed.0.", leaves: .same),
      Rule(prefix: "time_embedding.linear_2.", ldmPrefix: "time_embed.2.", leaves: .same),
      Rule(prefix: "conv_norm_out.", ldmPrefix: "out.0.", leaves: .same),
      Rule(prefix: "conv_out.", ldmPrefix: "out.2.", leaves: .same),
      Rule(prefix: "mid_block.resnets.0.", ldmPrefix: "middle_block.0.", leaves: .unetResnet),
      Rule(prefix: "mid_block.attentions.0.", ldmPrefix: "middle_block.1.", leaves: .same),
      Rule(prefix: "mid_block.resnets.1.", ldmPrefix: "middle_block.2.", leaves: .unetResnet),
    ]
    let layers = configuration.resolvedLayersPerBlock
    var input = 1
    for (block, type) in configuration.downBlockTypes.enumerated() {
      for layer in 0..<layers[block] {
        rules.append(
          Rule(
            prefix: "down_blocks.\(block).resnets.\(layer).", ldmPrefix: "input_blocks.\(input).0.", leaves: .unetResnet
          ))
        if type.hasPrefix("CrossAttn") {
          rules.append(
            Rule(
              prefix: "down_blocks.\(block).attentions.\(layer).", ldmPrefix: "input_blocks.\(input).1.", leaves: .same)
          )
        }
        input += 1
      }
      if block < configuration.downBlockTypes.count - 1 {
        rules.append(
          Rule(
            prefix: "down_blocks.\(block).downsamplers.0.conv.", ldmPrefix: "input_blocks.\(input).0.op.", leaves: .same
          ))
        input += 1
      }
    }
    let upLayers = layers.reversed().map { $0 + 1 }
    var output = 0
    for (block, type) in configuration.upBlockTypes.enumerated() {
      let hasAttention = type.hasPrefix("CrossAttn")
      for layer in 0..<upLayers[block] {
        rules.append(
          Rule(
            prefix: "up_blocks.\(block).resnets.\(layer).", ldmPrefix: "output_blocks.\(output).0.", leaves: .unetResnet
          ))
        if hasAttention {
          rules.append(
            Rule(
              prefix: "up_blocks.\(block).attentions.\(layer).", ldmPrefix: "output_blocks.\(output).1.", leaves: .same)
          )
        }
        if layer == upLayers[block] - 1 && block < configuration.upBlockTypes.count - 1 {
          rules.append(
            Rule(
              prefix: "up_blocks.\(block).upsamplers.0.conv.",
              ldmPrefix: "output_blocks.\(output).\(hasAttention ? 2 : 1).conv.", leaves: .same))
        }
        output += 1
      }
    }
    return LDMKeyTable(rules)
  }
}
