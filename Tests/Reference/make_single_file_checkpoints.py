"""Writes single-file checkpoints in the original LDM / AUTOMATIC1111 layout from diffusers folders, with the reverse
of the key mapping that diffusers' `from_single_file` applies, and checks that diffusers loads each file back to
exactly the folder's weights.

Command (from the repository root):

    /work/venv-ref/bin/python Tests/Reference/make_single_file_checkpoints.py FOLDER OUT.safetensors
        [--variant fp16] [--extras] [--metadata-prediction epsilon|v] [--v-probe-bias B] [--probe-json OUT.json]

* The tensors keep the folder's dtype, so the Swift loader must give bit-identical networks.
* `--extras` adds what published checkpoints carry besides the networks, which loaders ignore by rule: a few
  `model_ema.` tensors, the DDPM schedule buffers (`alphas_cumprod`, …), CLIP's `position_ids`, and for OpenCLIP
  the layer after the penultimate one, `text_projection` and `logit_scale`.
* `--metadata-prediction` writes Stability AI's model-spec metadata (`modelspec.prediction_type`).
* `--v-probe-bias B` sets the UNet's `conv_out` to weight 0, bias B, so AUTOMATIC1111's one-step probe decides
  v-prediction (B < -0.5) or ε (B > -0.5): how a full-size "768-v-shaped" random file is made.
* `--probe-json` writes AUTOMATIC1111's probe statistic for the written UNet (mean of unet(x) - x at t = 999 on
  x = 0.5, context 0.5 with 2 tokens).

Fixtures (Tests/NetworksTests/Fixtures/single-file/) were written with:

    python Tests/Reference/make_single_file_checkpoints.py Tests/NetworksTests/Fixtures/sd1-tiny/model \
        Tests/NetworksTests/Fixtures/single-file/sd1-tiny.safetensors --extras \
        --probe-json Tests/NetworksTests/Fixtures/single-file/sd1-tiny.json
    python Tests/Reference/make_single_file_checkpoints.py Tests/NetworksTests/Fixtures/sd2-tiny/model \
        Tests/NetworksTests/Fixtures/single-file/sd2-tiny.safetensors --variant fp16 --extras \
        --probe-json Tests/NetworksTests/Fixtures/single-file/sd2-tiny.json
"""
import argparse
import json
import os
import tempfile

import torch
from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
from safetensors.torch import save_file

torch.set_num_threads(1)

UNET_RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
               ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")]
VAE_RESNET = [("conv_shortcut", "nin_shortcut")]
VAE_ATTENTION = [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")]
OPENCLIP_LAYER = [("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"),
                  ("mlp.fc2", "mlp.c_proj"), ("self_attn.out_proj", "attn.out_proj")]


def rename_leaf(leaf, names):
    for name, ldm in names:
        if leaf == name or leaf.startswith(name + "."):
            return ldm + leaf[len(name):]
    return leaf


def per_block(value, count):
    return list(value) if isinstance(value, (list, tuple)) else [value] * count


def unet_prefixes(config):
    """(diffusers prefix, LDM prefix, leaf names) for every block of the UNet."""
    rules = [("conv_in.", "input_blocks.0.0.", []), ("time_embedding.linear_1.", "time_embed.0.", []),
             ("time_embedding.linear_2.", "time_embed.2.", []), ("conv_norm_out.", "out.0.", []),
             ("add_embedding.linear_1.", "label_emb.0.0.", []), ("add_embedding.linear_2.", "label_emb.0.2.", []),
             ("conv_out.", "out.2.", []), ("mid_block.resnets.0.", "middle_block.0.", UNET_RESNET),
             ("mid_block.attentions.0.", "middle_block.1.", []), ("mid_block.resnets.1.", "middle_block.2.", UNET_RESNET)]
    layers = per_block(config.layers_per_block, len(config.block_out_channels))
    index = 1
    for block, kind in enumerate(config.down_block_types):
        for layer in range(layers[block]):
            rules.append((f"down_blocks.{block}.resnets.{layer}.", f"input_blocks.{index}.0.", UNET_RESNET))
            if kind.startswith("CrossAttn"):
                rules.append((f"down_blocks.{block}.attentions.{layer}.", f"input_blocks.{index}.1.", []))
            index += 1
        if block < len(config.down_block_types) - 1:
            rules.append((f"down_blocks.{block}.downsamplers.0.conv.", f"input_blocks.{index}.0.op.", []))
            index += 1
    index = 0
    up_layers = [count + 1 for count in reversed(layers)]
    for block, kind in enumerate(config.up_block_types):
        attention = kind.startswith("CrossAttn")
        for layer in range(up_layers[block]):
            rules.append((f"up_blocks.{block}.resnets.{layer}.", f"output_blocks.{index}.0.", UNET_RESNET))
            if attention:
                rules.append((f"up_blocks.{block}.attentions.{layer}.", f"output_blocks.{index}.1.", []))
            if layer == up_layers[block] - 1 and block < len(config.up_block_types) - 1:
                rules.append((f"up_blocks.{block}.upsamplers.0.conv.",
                              f"output_blocks.{index}.{2 if attention else 1}.conv.", []))
            index += 1
    return rules


def vae_prefixes(config):
    rules = [("quant_conv.", "quant_conv.", []), ("post_quant_conv.", "post_quant_conv.", [])]
    for half in ("encoder", "decoder"):
        rules += [(f"{half}.conv_in.", f"{half}.conv_in.", []), (f"{half}.conv_out.", f"{half}.conv_out.", []),
                  (f"{half}.conv_norm_out.", f"{half}.norm_out.", []),
                  (f"{half}.mid_block.resnets.0.", f"{half}.mid.block_1.", VAE_RESNET),
                  (f"{half}.mid_block.resnets.1.", f"{half}.mid.block_2.", VAE_RESNET),
                  (f"{half}.mid_block.attentions.0.", f"{half}.mid.attn_1.", VAE_ATTENTION)]
    blocks = len(config.block_out_channels)
    for block in range(blocks):
        rules.append((f"encoder.down_blocks.{block}.resnets.", f"encoder.down.{block}.block.", VAE_RESNET))
        rules.append((f"encoder.down_blocks.{block}.downsamplers.0.", f"encoder.down.{block}.downsample.", []))
        rules.append((f"decoder.up_blocks.{block}.resnets.", f"decoder.up.{blocks - 1 - block}.block.", VAE_RESNET))
        rules.append((f"decoder.up_blocks.{block}.upsamplers.0.", f"decoder.up.{blocks - 1 - block}.upsample.", []))
    return rules


def apply_prefixes(state, rules, prefix):
    rules = sorted(rules, key=lambda rule: -len(rule[0]))
    out = {}
    for key, value in state.items():
        for source, target, names in rules:
            if key.startswith(source):
                out[prefix + target + rename_leaf(key[len(source):], names)] = value
                break
        else:
            raise KeyError(f"no LDM name for {key}")
    return out


def vae_to_ldm(state, config):
    out = apply_prefixes(state, vae_prefixes(config), "first_stage_model.")
    for key in list(out):  # LDM's VAE attention projections are 1x1 convolutions
        if ".mid.attn_1." in key and key.endswith(("q.weight", "k.weight", "v.weight", "proj_out.weight")):
            out[key] = out[key][:, :, None, None].contiguous()
    return out


def openclip_to_ldm(state, config, extras, prefix="cond_stage_model.model."):
    out = {}
    width = config.hidden_size
    for key, value in state.items():
        if key == "text_model.embeddings.token_embedding.weight":
            out[prefix + "token_embedding.weight"] = value
        elif key == "text_model.embeddings.position_embedding.weight":
            out[prefix + "positional_embedding"] = value
        elif key.startswith("text_model.final_layer_norm."):
            out[prefix + "ln_final." + key.split(".")[-1]] = value
        elif key.startswith("text_model.encoder.layers."):
            layer = int(key.split(".")[3])
            leaf = ".".join(key.split(".")[4:])
            base = f"{prefix}transformer.resblocks.{layer}."
            if leaf.startswith(("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")):
                continue
            out[base + rename_leaf(leaf, OPENCLIP_LAYER)] = value
        elif key == "text_model.embeddings.position_ids":
            continue
        elif key == "text_projection.weight":  # SDXL's CLIPTextModelWithProjection; LDM stores x @ P
            out[prefix + "text_projection"] = value.t().contiguous()
        else:
            raise KeyError(f"no LDM name for {key}")
    for layer in range(config.num_hidden_layers):
        for kind in ("weight", "bias"):
            parts = [state[f"text_model.encoder.layers.{layer}.self_attn.{p}_proj.{kind}"] for p in "qkv"]
            out[f"{prefix}transformer.resblocks.{layer}.attn.in_proj_{kind}"] = torch.cat(parts, 0).contiguous()
    if extras:  # the last layer SD 2.x skips, and the image-text similarity head
        generator = torch.Generator().manual_seed(5)
        dtype = state["text_model.final_layer_norm.weight"].dtype
        last = config.num_hidden_layers
        shapes = {"ln_1.weight": [width], "ln_1.bias": [width], "ln_2.weight": [width], "ln_2.bias": [width],
                  "attn.in_proj_weight": [3 * width, width], "attn.in_proj_bias": [3 * width],
                  "attn.out_proj.weight": [width, width], "attn.out_proj.bias": [width],
                  "mlp.c_fc.weight": [config.intermediate_size, width], "mlp.c_fc.bias": [config.intermediate_size],
                  "mlp.c_proj.weight": [width, config.intermediate_size], "mlp.c_proj.bias": [width]}
        for leaf, shape in shapes.items():
            out[f"{prefix}transformer.resblocks.{last}.{leaf}"] = torch.randn(shape, generator=generator).to(dtype)
        out[prefix + "text_projection"] = torch.randn([width, config.projection_dim or width], generator=generator).to(dtype)
        out[prefix + "logit_scale"] = torch.tensor(4.6052).to(dtype)
    return out


def clip_to_ldm(state, extras, prefix="cond_stage_model.transformer."):
    out = {prefix + key: value for key, value in state.items() if key != "text_model.embeddings.position_ids"}
    if extras:
        out[prefix + "text_model.embeddings.position_ids"] = torch.arange(77)[None]
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("out")
    parser.add_argument("--variant")
    parser.add_argument("--extras", action="store_true")
    parser.add_argument("--metadata-prediction", choices=["epsilon", "v"])
    parser.add_argument("--v-probe-bias", type=float)
    parser.add_argument("--probe-json")
    parser.add_argument("--skip-diffusers-check", action="store_true",
                        help="do not read the file back with from_single_file (full-size SDXL: twice the memory)")
    args = parser.parse_args()
    dtype = torch.float16 if args.variant == "fp16" else None
    xl = os.path.isdir(os.path.join(args.folder, "text_encoder_2"))
    kind = StableDiffusionXLPipeline if xl else StableDiffusionPipeline
    extra = {} if xl else dict(safety_checker=None, requires_safety_checker=False)
    pipe = kind.from_pretrained(args.folder, variant=args.variant, torch_dtype=dtype, **extra)
    if args.v_probe_bias is not None:
        with torch.no_grad():
            pipe.unet.conv_out.weight.zero_()
            pipe.unet.conv_out.bias.fill_(args.v_probe_bias)
    unet_state = pipe.unet.state_dict()
    text_state = {key if key.startswith("text_model.") else "text_model." + key: value
                  for key, value in pipe.text_encoder.state_dict().items()}
    openclip = not xl and pipe.text_encoder.config.hidden_act != "quick_gelu"  # OpenCLIP ViT-H: gelu; CLIP ViT-L: quick_gelu
    tensors = {}
    tensors.update(apply_prefixes(unet_state, unet_prefixes(pipe.unet.config), "model.diffusion_model."))
    tensors.update(vae_to_ldm(pipe.vae.state_dict(), pipe.vae.config))
    if xl:
        tensors.update(clip_to_ldm(text_state, args.extras, prefix="conditioner.embedders.0.transformer."))
        state_2 = {k if k.startswith(("text_model.", "text_projection")) else "text_model." + k: v
                   for k, v in pipe.text_encoder_2.state_dict().items()}
        tensors.update(openclip_to_ldm(state_2, pipe.text_encoder_2.config, False, prefix="conditioner.embedders.1.model."))
    elif openclip:
        tensors.update(openclip_to_ldm(text_state, pipe.text_encoder.config, args.extras))
    else:
        tensors.update(clip_to_ldm(text_state, args.extras))
    if args.extras:
        betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
        alphas_cumprod = torch.cumprod(1 - betas, 0)
        tensors["betas"] = betas.float()
        tensors["alphas_cumprod"] = alphas_cumprod.float()
        tensors["sqrt_alphas_cumprod"] = alphas_cumprod.sqrt().float()
        tensors["model_ema.decay"] = torch.tensor(0.9999)
        tensors["model_ema.num_updates"] = torch.tensor(1000, dtype=torch.int32)
        key = next(k for k in tensors if k.startswith("model.diffusion_model.out.2."))
        tensors["model_ema.diffusion_modelout2" + key.split(".")[-1]] = tensors[key].clone()
    metadata = {"format": "pt"}
    if args.metadata_prediction:
        metadata["modelspec.sai_model_spec"] = "1.0.0"
        metadata["modelspec.prediction_type"] = args.metadata_prediction
    tensors = {key: value.contiguous() for key, value in tensors.items()}
    save_file(tensors, args.out, metadata=metadata)
    print(f"wrote {args.out}: {len(tensors)} tensors")

    if args.skip_diffusers_check:
        return
    # diffusers reads the file back to the folder's weights (its ignore list knows only SD 2's real layer 23,
    # so the check runs on a copy without the extra OpenCLIP layer).
    check = {k: v for k, v in tensors.items() if not (openclip and ".resblocks." in k and
                                                      int(k.split(".resblocks.")[1].split(".")[0]) >= pipe.text_encoder.config.num_hidden_layers)}
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "check.safetensors")
        save_file(check, path)
        loaded = kind.from_single_file(path, config=args.folder, local_files_only=True, torch_dtype=dtype, **extra)
    for name in ("unet", "vae", "text_encoder") + (("text_encoder_2",) if xl else ()):
        expected = getattr(pipe, name).state_dict()
        found = getattr(loaded, name).state_dict()
        for key, value in expected.items():
            if key.endswith("position_ids"):
                continue
            assert key in found, f"{name}: diffusers did not load {key}"
            assert torch.equal(found[key].to(value.dtype), value), f"{name}: {key} differs after from_single_file"
    print("diffusers from_single_file reads back the folder's weights exactly")

    if args.probe_json:
        with torch.no_grad():
            unet = pipe.unet.float()
            x = torch.ones((1, unet.config.in_channels, 8, 8)) * 0.5
            context = torch.ones((1, 2, unet.config.cross_attention_dim)) * 0.5
            statistic = (unet(x, 999, encoder_hidden_states=context).sample - x).mean().item()
        with open(args.probe_json, "w") as f:
            json.dump({"probe_mean": statistic, "v_prediction": statistic < -1, "tensors": len(tensors)}, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
