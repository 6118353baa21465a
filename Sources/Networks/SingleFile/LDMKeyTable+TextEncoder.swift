extension LDMKeyTable {
  /// OpenAI CLIP ViT-L as SD 1.x checkpoints store it (`cond_stage_model.transformer.`, prefix not included):
  /// transformers' own keys, under `text_model.` or — in checkpoints written with transformers before 4.17 — at the
  /// top level.
  /// - Parameter keysUnderTextModel: whether the checkpoint's keys include the `text_model.` level.
  static func clipTextModel(keysUnderTextModel: Bool) -> LDMKeyTable {
    LDMKeyTable([Rule(prefix: "text_model.", ldmPrefix: keysUnderTextModel ? "text_model." : "", leaves: .same)])
  }

  /// OpenCLIP as SD 2.x checkpoints store it (`cond_stage_model.model.`, prefix not included): `token_embedding`,
  /// `positional_embedding`, `transformer.resblocks.i` with fused query/key/value projections, `ln_final`, and a
  /// transposed `text_projection` — as diffusers' `convert_open_clip_checkpoint` reads them.
  /// - Parameter configuration: the text encoder's configuration (its width and layer count).
  static func openCLIPTextModel(_ configuration: CLIPTextConfiguration) -> LDMKeyTable {
    var rules: [Rule] = [
      Rule(
        prefix: "text_model.embeddings.token_embedding.", ldmPrefix: "token_embedding.", leaves: .same),
      Rule(
        prefix: "text_model.embeddings.position_embedding.weight", ldmPrefix: "positional_embedding", leaves: .same),
      Rule(prefix: "text_model.final_layer_norm.", ldmPrefix: "ln_final.", leaves: .same),
      Rule(prefix: "text_projection.weight", ldmPrefix: "text_projection", leaves: .transposed),
    ]
    for layer in 0..<configuration.numHiddenLayers {
      rules.append(
        Rule(
          prefix: "text_model.encoder.layers.\(layer).", ldmPrefix: "transformer.resblocks.\(layer).",
          leaves: .openCLIPLayer(width: configuration.hiddenSize)))
    }
    return LDMKeyTable(rules)
  }
}
