"""Writes the tensor layout (key → dtype and shape, no values) of full-size single-file checkpoints as the published
SD 1.5 and SD 2.1 files have it, for the test that loads the embedded configurations against it with no weights
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
from transformers import CLIPTextConfig, CLIPTextModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_full_size_models import BLOCKS, MODELS, VAE  # noqa: E402
from make_single_file_checkpoints import (apply_prefixes, clip_to_ldm, openclip_to_ldm, unet_prefixes,  # noqa: E402
                                          vae_to_ldm)

LAYOUTS = {"sd15": "sd15", "sd21": "sd21base"}


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
        names = {torch.float16: "F16", torch.float32: "F32", torch.int64: "I64", torch.int32: "I32"}
        layout = {key: [names[value.dtype], list(value.shape)] for key, value in sorted(tensors.items())}
        path = os.path.join(out, f"{name}-layout.json")
        with open(path, "w") as f:
            json.dump(layout, f, separators=(",", ":"))
            f.write("\n")
        print(f"wrote {path}: {len(layout)} tensors")


if __name__ == "__main__":
    main()
