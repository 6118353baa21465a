"""Writes the tensor layout (key → dtype and shape, no values) of full-size single-file checkpoints as the published
SD 1.5, SD 2.1 and SDXL base files have it, for the test that loads the embedded configurations against it with no weights
(a sparse file with this header). The layout is the reverse LDM mapping of make_single_file_checkpoints.py applied
to diffusers' networks built on the meta device (no memory), plus the extras published files carry (EMA
bookkeeping, the DDPM schedule, CLIP's position_ids; OpenCLIP's 24th layer, text_projection and logit_scale).

Command (from the repository root):

    /work/venv-ref/bin/python Tests/Reference/make_checkpoint_layouts.py Tests/NetworksTests/Fixtures/single-file
"""
import json
import os
import sys

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_full_size_models import BLOCKS, MODELS, VAE  # noqa: E402
from make_single_file_checkpoints import (apply_prefixes, clip_to_ldm, openclip_to_ldm, unet_prefixes,  # noqa: E402
                                          vae_to_ldm)

LAYOUTS = {"sd15": "sd15", "sd21": "sd21base"}
SDXL_UNET = dict(sample_size=128, block_out_channels=(320, 640, 1280), layers_per_block=2,
                 down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                 up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                 transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048,
                 use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
                 projection_class_embeddings_input_dim=2816)
SDXL_CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                   hidden_act="quick_gelu", projection_dim=768)
SDXL_CLIP_G = dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32,
                   hidden_act="gelu", projection_dim=1280)


def sdxl_layout():
    """SDXL base 1.0's single file: conditioner.embedders.0 (CLIP ViT-L), .1 (OpenCLIP bigG with text_projection
    and logit_scale), label_emb, and the VAE; no EMA, no schedule buffers (as published)."""
    with torch.device("meta"):
        unet = UNet2DConditionModel(**SDXL_UNET)
        vae = AutoencoderKL(**dict(VAE, sample_size=1024, scaling_factor=0.13025))
        clip_l = CLIPTextModel(CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, **SDXL_CLIP_L))
        clip_g = CLIPTextModelWithProjection(CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, **SDXL_CLIP_G))
    half = lambda state: {k: v.to(torch.float16) for k, v in state.items()}  # noqa: E731
    prefixed = lambda state: {k if k.startswith(("text_model.", "text_projection")) else "text_model." + k: v  # noqa: E731
                              for k, v in state.items()}
    tensors = {}
    tensors.update(apply_prefixes(half(unet.state_dict()), unet_prefixes(unet.config), "model.diffusion_model."))
    tensors.update(vae_to_ldm(half(vae.state_dict()), vae.config))
    tensors.update(clip_to_ldm(half(prefixed(clip_l.state_dict())), extras=False,
                               prefix="conditioner.embedders.0.transformer."))
    tensors["conditioner.embedders.0.transformer.text_model.embeddings.position_ids"] = torch.empty(
        [1, 77], dtype=torch.int64, device="meta")
    with torch.device("meta"):
        tensors.update(openclip_to_ldm(half(prefixed(clip_g.state_dict())), clip_g.config, extras=False,
                                       prefix="conditioner.embedders.1.model."))
    tensors["conditioner.embedders.1.model.logit_scale"] = torch.empty([], dtype=torch.float16, device="meta")
    return tensors


def main():
    out = sys.argv[1]
    for name, model in LAYOUTS.items():
        spec = MODELS[model]
        with torch.device("meta"):
            unet = UNet2DConditionModel(**spec["unet"])
            vae = AutoencoderKL(**VAE)
            text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, **spec["clip"]))
        half = lambda state: {k: v.to(torch.float16) for k, v in state.items()}  # noqa: E731
        text_state = {k if k.startswith("text_model.") else "text_model." + k: v for k, v in text.state_dict().items()}
        tensors = {}
        tensors.update(apply_prefixes(half(unet.state_dict()), unet_prefixes(unet.config), "model.diffusion_model."))
        tensors.update(vae_to_ldm(half(vae.state_dict()), vae.config))
        if spec["clip"]["hidden_act"] == "quick_gelu":
            tensors.update(clip_to_ldm(half(text_state), extras=False))
            tensors["cond_stage_model.transformer.text_model.embeddings.position_ids"] = torch.empty(
                [1, 77], dtype=torch.int64, device="meta")
        else:
            with torch.device("meta"):
                tensors.update(openclip_to_ldm(half(text_state), text.config, extras=True))
        for buffer in ("betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
                       "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
                       "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
                       "posterior_mean_coef1", "posterior_mean_coef2"):
            tensors[buffer] = torch.empty([1000], dtype=torch.float32, device="meta")
        tensors["model_ema.decay"] = torch.empty([], dtype=torch.float32, device="meta")
        tensors["model_ema.num_updates"] = torch.empty([], dtype=torch.int32, device="meta")
        write(out, name, tensors)
    write(out, "sdxl", sdxl_layout())


def write(out, name, tensors):
    names = {torch.float16: "F16", torch.float32: "F32", torch.int64: "I64", torch.int32: "I32"}
    layout = {key: [names[value.dtype], list(value.shape)] for key, value in sorted(tensors.items())}
    path = os.path.join(out, f"{name}-layout.json")
    with open(path, "w") as f:
        json.dump(layout, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(layout)} tensors")


if __name__ == "__main__":
    main()
