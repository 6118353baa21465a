"""Inpainting-UNet fixtures: a tiny SD 1.x-shaped folder whose UNet has in_channels 9, and diffusers'
StableDiffusionInpaintPipeline run on it (the oracle for the editor with `inpaintingBlend` off).

Command (from the repository root):
    /work/.venv-ref/bin/python Tests/Reference/make_inpainting_fixtures.py

Writes Tests/BlendedLatentTests/Fixtures/inpaint-sd1-tiny/:
  model/      text encoder, tokenizer and VAE copied from Tests/NetworksTests/Fixtures/sd1-tiny/model (VAE factor 2),
              a new random 9-channel UNet (block channels 16, 16; sample size 16 -> native 32 px) and a DDIM
              scheduler config; model_index.json names StableDiffusionInpaintPipeline.
  image.png, mask.png   32 x 32 inputs (the lake example, resized; mask nearest).
  cases.json  one entry per pipeline run (scheduler, steps, strength, guidance, batch, seed, prompts).
  <case>.safetensors    images (float, [0, 1]), images_u8 (round(255 x)), final_latents (the latents after the
              last step, from callback_on_step_end).
"""
import importlib.util
import json
import shutil
from pathlib import Path

import diffusers
import numpy as np
import torch
import transformers
from PIL import Image
from safetensors.torch import save_file

root = Path(__file__).resolve().parents[2]
out = root / "Tests" / "BlendedLatentTests" / "Fixtures" / "inpaint-sd1-tiny"
source = root / "Tests" / "NetworksTests" / "Fixtures" / "sd1-tiny" / "model"

spec = importlib.util.spec_from_file_location("network_fixtures", root / "Tests" / "Reference" / "make_network_fixtures.py")
network_fixtures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(network_fixtures)

SCHEDULER = dict(_class_name="DDIMScheduler", num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
                 beta_schedule="scaled_linear", steps_offset=1, set_alpha_to_one=False, clip_sample=False,
                 prediction_type="epsilon")

CASES = [
    # name, scheduler class, steps, strength, guidance, batch, seed, prompt, negative prompt
    ("ddim-s1", "DDIMScheduler", 10, 1.0, 7.5, 1, 3, "a red boat", ""),
    ("ddim-s06-b2", "DDIMScheduler", 10, 0.6, 5.0, 2, 4, "a red boat", "blurry"),
    ("eulera-s1-g1", "EulerAncestralDiscreteScheduler", 8, 1.0, 1.0, 1, 5, "a swan", ""),
]


def make_model():
    model = out / "model"
    if model.exists():
        shutil.rmtree(model)
    model.mkdir(parents=True)
    for part in ("text_encoder", "tokenizer", "vae"):
        shutil.copytree(source / part, model / part)
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        sample_size=16, in_channels=9, out_channels=4, block_out_channels=(16, 16), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=4, cross_attention_dim=32, norm_num_groups=8)
    network_fixtures.perturb(unet, torch.Generator().manual_seed(1))
    unet.save_pretrained(model / "unet", safe_serialization=True)
    (model / "scheduler").mkdir()
    (model / "scheduler" / "scheduler_config.json").write_text(json.dumps(SCHEDULER, indent=1) + "\n")
    index = json.loads((source / "model_index.json").read_text())
    index["_class_name"] = "StableDiffusionInpaintPipeline"
    index["scheduler"] = ["diffusers", "DDIMScheduler"]
    (model / "model_index.json").write_text(json.dumps(index, indent=1) + "\n")


def main():
    torch.set_num_threads(1)
    make_model()
    size = 32
    Image.open(root / "Examples" / "lake.png").convert("RGB").resize((size, size), Image.BICUBIC).save(out / "image.png")
    Image.open(root / "Examples" / "lake-mask.png").convert("L").resize((size, size), Image.NEAREST).save(out / "mask.png")
    image = Image.open(out / "image.png")
    mask = Image.open(out / "mask.png")
    model = out / "model"
    components = dict(
        vae=diffusers.AutoencoderKL.from_pretrained(model / "vae").eval(),
        text_encoder=transformers.CLIPTextModel.from_pretrained(model / "text_encoder").eval(),
        tokenizer=transformers.CLIPTokenizer.from_pretrained(model / "tokenizer"),
        unet=diffusers.UNet2DConditionModel.from_pretrained(model / "unet").eval())
    cases = []
    for name, scheduler_class, steps, strength, guidance, batch, seed, prompt, negative in CASES:
        scheduler = getattr(diffusers, scheduler_class).from_config(SCHEDULER)
        pipeline = diffusers.StableDiffusionInpaintPipeline(
            **components, scheduler=scheduler, safety_checker=None, feature_extractor=None,
            requires_safety_checker=False)
        pipeline.set_progress_bar_config(disable=True)
        captured = {}

        def keep(pipe, step, timestep, tensors):
            captured["latents"] = tensors["latents"].clone()
            return tensors

        with torch.no_grad():
            images = pipeline(
                prompt=prompt, negative_prompt=negative, image=image, mask_image=mask, height=size, width=size,
                num_inference_steps=steps, strength=strength, guidance_scale=guidance, num_images_per_prompt=batch,
                generator=torch.Generator().manual_seed(seed), output_type="np",
                callback_on_step_end=keep, callback_on_step_end_tensor_inputs=["latents"]).images
        images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()  # [B, 3, H, W]
        save_file(dict(images=images, images_u8=torch.round(images * 255), final_latents=captured["latents"]),
                  str(out / f"{name}.safetensors"))
        cases.append(dict(name=name, scheduler=scheduler_class, steps=steps, strength=strength, guidance=guidance,
                          batch=batch, seed=seed, prompt=prompt, negative_prompt=negative))
    (out / "cases.json").write_text(json.dumps(dict(
        diffusers=diffusers.__version__, torch=torch.__version__, transformers=transformers.__version__,
        cases=cases), indent=1) + "\n")
    (out / "README.md").write_text(
        "# inpaint-sd1-tiny\n\nGenerated by `Tests/Reference/make_inpainting_fixtures.py` "
        f"(diffusers {diffusers.__version__}, torch {torch.__version__}): a tiny diffusers folder with a 9-channel "
        "inpainting UNet, and diffusers' `StableDiffusionInpaintPipeline` run on it for each case of `cases.json`.\n")


if __name__ == "__main__":
    main()
