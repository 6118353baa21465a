extension LDMKeyTable {
  /// The VAE of an LDM checkpoint (`first_stage_model.`, prefix not included): `encoder.down.i.block.j`,
  /// `encoder.down.i.downsample`, `mid.block_1/2`, `mid.attn_1`, `norm_out`, and the decoder's `up.i` numbered
  /// from the lowest resolution, the reverse of diffusers' `up_blocks` — as diffusers' `convert_ldm_vae_checkpoint`
  /// reads them. The block structure is fixed by the module; the configuration only gives the block count.
  /// - Parameter configuration: the VAE's configuration.
  static func autoencoder(_ configuration: AutoencoderKLConfiguration) -> LDMKeyTable {
    var rules: [Rule] = [
      Rule(prefix: "quant_conv.", ldmPrefix: "quant_conv.", leaves: .same),
      Rule(prefix: "post_quant_conv.", ldmPrefix: "post_quant_conv.", leaves: .same),
    ]
    for half in ["encoder", "decoder"] {
      rules += [
        Rule(prefix: "\(half).conv_in.", ldmPrefix: "\(half).conv_in.", leaves: .same),
        Rule(prefix: "\(half).conv_out.", ldmPrefix: "\(half).conv_out.", leaves: .same),
        Rule(prefix: "\(half).conv_norm_out.", ldmPrefix: "\(half).norm_out.", leaves: .same),
        Rule(prefix: "\(half).mid_block.resnets.0.", ldmPrefix: "\(half).mid.block_1.", leaves: .autoencoderResnet),
        Rule(prefix: "\(half).mid_block.resnets.1.", ldmPrefix: "\(half).mid.block_2.", leaves: .autoencoderResnet),
        Rule(
          prefix: "\(half).mid_block.attentions.0.", ldmPrefix: "\(half).mid.attn_1.", leaves: .autoencoderAttention),
      ]
    }
    let blocks = configuration.blockOutChannels.count
    for block in 0..<blocks {
      rules.append(
        Rule(
          prefix: "encoder.down_blocks.\(block).resnets.", ldmPrefix: "encoder.down.\(block).block.",
          leaves: .autoencoderResnet))
      rules.append(
        Rule(
          prefix: "encoder.down_blocks.\(block).downsamplers.0.", ldmPrefix: "encoder.down.\(block).downsample.",
          leaves: .same))
      let ldmBlock = blocks - 1 - block
      rules.append(
        Rule(
          prefix: "decoder.up_blocks.\(block).resnets.", ldmPrefix: "decoder.up.\(ldmBlock).block.",
          leaves: .autoencoderResnet))
      rules.append(
        Rule(
          prefix: "decoder.up_blocks.\(block).upsamplers.0.", ldmPrefix: "decoder.up.\(ldmBlock).upsample.",
          leaves: .same))
    }
    return LDMKeyTable(rules)
  }
}
