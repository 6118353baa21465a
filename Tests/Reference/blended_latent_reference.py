"""Python reference of the Blended Latent Diffusion loop (Documentation/Method.md), on diffusers components.

`blended_latent_edit(...)` follows Documentation/Method.md line by line with diffusers schedulers and any UNet / VAE /
text encoder / tokenizer with diffusers' and transformers' call conventions. All noise comes from ONE
`torch.Generator` in Method.md's order: eps0 [B, C, h, w] first; per step the scheduler's own draw (DDIM with
eta > 0, Euler ancestral, LCM except at its last step), then eps_i [B, C, h, w] unless it is the last step.

Commands (from the repository root):

  # Loop parity fixtures with deterministic fake components (what BlendedLatentTests reads):
  /work/venv-ref/bin/python Tests/Reference/blended_latent_reference.py fake \
      --out Tests/BlendedLatentTests/Fixtures/blended

  # Tiny random models in diffusers layout (for the next command):
  /work/venv-ref/bin/python Tests/Reference/blended_latent_reference.py tiny --out /tmp/tiny-sd

  # End-to-end fixture with real or tiny models stored in diffusers layout
  # (DIR/unet, DIR/vae, DIR/text_encoder, DIR/tokenizer, DIR/scheduler):
  /work/venv-ref/bin/python Tests/Reference/blended_latent_reference.py model --model-dir DIR \
      --image image.png --mask mask.png --prompt "a red hat" --steps 10 --strength 0.75 \
      --guidance 7.5 --seed 0 --batch 2 --out Tests/BlendedLatentTests/Fixtures/e2e-tiny
  # --height/--width resize the inputs (bicubic for the image, nearest for the mask) before editing.
"""
import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

# ----------------------------------------------------------------------------------------------------------
# The reference loop
# ----------------------------------------------------------------------------------------------------------


def latent_mask_nearest(mask, h, w):
    """Method.md step 2: nearest neighbour with PIL's rule (source floor((i + 0.5) * H / h)), threshold 0.5."""
    H, W = mask.shape
    rows = [min(H - 1, int(math.floor((i + 0.5) * H / h))) for i in range(h)]
    cols = [min(W - 1, int(math.floor((j + 0.5) * W / w))) for j in range(w)]
    small = mask[rows][:, cols]
    return (small >= 0.5).to(torch.float32)


def latent_mask_max_pool(mask, h, w):
    """Optional mode: a latent cell is on if any pixel of its cell is >= 0.5."""
    H, W = mask.shape
    out = torch.zeros(h, w)
    binary = mask >= 0.5
    for i in range(h):
        r0, r1 = i * H // h, max(i * H // h + 1, (i + 1) * H // h)
        for j in range(w):
            c0, c1 = j * W // w, max(j * W // w + 1, (j + 1) * W // w)
            out[i, j] = float(binary[r0:r1, c0:c1].any())
    return out


def shrink_masks(m, levels):
    """Progressive mask shrinking: [dilate(m, 2K+1), ..., dilate(m, 3), m], square kernels, border 0."""
    masks = []
    for level in range(levels + 1):
        size = 2 * (levels - level) + 1
        if size == 1:
            masks.append(m)
        else:
            dilated = torch.nn.functional.max_pool2d(m[None, None], size, stride=1, padding=size // 2)[0, 0]
            masks.append(dilated)
    return masks


def noise_level(scheduler, original, noise, step_index, after):
    """Noise `original` to the level before (after=False) or after (after=True) step `step_index`."""
    name = type(scheduler).__name__
    if name == "LCMScheduler":  # the level after a step is the next timestep's; after the last, clean
        if after and step_index + 1 >= len(scheduler.timesteps):
            return original.clone()
        alpha = scheduler.alphas_cumprod[int(scheduler.timesteps[step_index + (1 if after else 0)])]
        return alpha ** 0.5 * original + (1 - alpha) ** 0.5 * noise
    if name == "DDIMScheduler":
        t = int(scheduler.timesteps[step_index])
        if after:
            prev = t - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
            alpha = scheduler.alphas_cumprod[prev] if prev >= 0 else scheduler.final_alpha_cumprod
        else:
            alpha = scheduler.alphas_cumprod[t]
        return alpha ** 0.5 * original + (1 - alpha) ** 0.5 * noise
    sigma = scheduler.sigmas[step_index + (1 if after else 0)]
    if name == "DPMSolverMultistepScheduler":
        alpha_t, sigma_t = scheduler._sigma_to_alpha_sigma_t(sigma)
        return alpha_t * original + sigma_t * noise
    return original + noise * sigma  # Euler, Euler ancestral: variance exploding


def paste_weights(mask, feather_radius):
    binary = (mask >= 0.5).to(torch.float32)
    if feather_radius == 0:
        return binary
    H, W = mask.shape
    reach = feather_radius + 1
    out = torch.zeros(H, W)
    for i in range(H):
        for j in range(W):
            if binary[i, j] == 0:
                continue
            best = reach * reach
            for di in range(-reach, reach + 1):
                for dj in range(-reach, reach + 1):
                    ii, jj = i + di, j + dj
                    if 0 <= ii < H and 0 <= jj < W and binary[ii, jj] == 0:
                        best = min(best, di * di + dj * dj)
            out[i, j] = float(min(np.float32(1.0), np.float32(math.sqrt(best)) / np.float32(reach)))
    return out


@torch.no_grad()
def blended_latent_edit(unet, vae, text_encoder, tokenizer, scheduler, image, mask, prompt, negative_prompt="",
                        num_inference_steps=50, guidance_scale=7.5, strength=0.75, batch_size=1, generator=None,
                        eta=0.0, mask_mode="nearest", shrink_levels=0, paste_radius=None):
    """Blended Latent Diffusion as Documentation/Method.md states it.

    image: [3, H, W] in [0, 1]; mask: [H, W] in [0, 1] (white = edit); H, W multiples of 8.
    Returns a dict with z_init, the latent mask, the latents after every step, the final latents and the images.
    """
    # 1. z_init = scaling_factor * mean(E(x)), x in [-1, 1]
    x = (2.0 * image - 1.0)[None]
    z_init = vae.config.scaling_factor * vae.encode(x).latent_dist.mean
    _, C, h, w = z_init.shape
    B = batch_size
    z_source = z_init.repeat(B, 1, 1, 1)
    # 2. latent mask
    m = latent_mask_nearest(mask, h, w) if mask_mode == "nearest" else latent_mask_max_pool(mask, h, w)
    # text: [negative, prompt] -> B unconditional rows, then B conditional rows
    context = tokenizer.model_max_length if tokenizer.model_max_length <= 4096 else 77  # unset -> CLIP's 77
    ids = tokenizer([negative_prompt, prompt], padding="max_length", max_length=context,
                    truncation=True, return_tensors="pt").input_ids
    embeddings = text_encoder(ids)[0]
    # diffusers' do_classifier_free_guidance = guidance_scale > 1: otherwise only the conditional rows run
    guided = guidance_scale > 1
    conditioning = torch.cat([embeddings[0:1].repeat(B, 1, 1), embeddings[1:2].repeat(B, 1, 1)]) if guided \
        else embeddings[1:2].repeat(B, 1, 1)
    # 3. timesteps and strength (LCM: set_timesteps(n, strength) moves the n timesteps and all of them run, as
    # diffusers' LatentConsistencyModelImg2ImgPipeline does; others keep the last int(n * strength))
    lcm = type(scheduler).__name__ == "LCMScheduler"
    if lcm:
        scheduler.set_timesteps(num_inference_steps, strength=strength)
    else:
        scheduler.set_timesteps(num_inference_steps)
    total = len(scheduler.timesteps)
    kept = total if lcm else min(int(total * strength), total)
    begin = total - kept
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(begin)
    masks = shrink_masks(m, shrink_levels)
    interval = kept // (shrink_levels + 1) + 1
    # 4. eps0 first, then z at the first kept level
    eps0 = torch.randn((B, C, h, w), generator=generator, dtype=torch.float32)
    z = noise_level(scheduler, z_source, eps0, begin, after=False)
    step_latents = []
    for i in range(kept):
        index = begin + i
        t = scheduler.timesteps[index]
        model_input = scheduler.scale_model_input(z, t)
        if guided:
            output = unet(torch.cat([model_input, model_input]), t, encoder_hidden_states=conditioning).sample
            u, c = output.chunk(2)
            eps_hat = u + guidance_scale * (c - u)
        else:
            eps_hat = unet(model_input, t, encoder_hidden_states=conditioning).sample
        kwargs = {}
        if type(scheduler).__name__ == "DDIMScheduler":
            kwargs = dict(eta=eta, generator=generator)
        elif type(scheduler).__name__ in ("EulerAncestralDiscreteScheduler", "LCMScheduler"):
            kwargs = dict(generator=generator)
        z = scheduler.step(eps_hat, t, z, **kwargs).prev_sample
        if i < kept - 1:
            eps_i = torch.randn((B, C, h, w), generator=generator, dtype=torch.float32)
            background = noise_level(scheduler, z_source, eps_i, index, after=True)
        else:
            background = z_source
        mk = masks[min(i // interval, shrink_levels)]
        z = mk * z + (1 - mk) * background
        step_latents.append(z.clone())
    # 6. decode, clamp, [0, 1]
    images = []
    for b in range(B):
        decoded = vae.decode(z[b:b + 1] / vae.config.scaling_factor).sample.clamp(-1, 1)
        images.append(((decoded + 1) / 2)[0])
    images = torch.stack(images)
    if paste_radius is not None:
        weights = paste_weights(mask, paste_radius)
        images = torch.where(weights == 0, image[None], torch.where(
            weights == 1, images, weights * images + (1 - weights) * image[None]))
    return dict(z_init=z_init, latent_mask=m, step_latents=torch.stack(step_latents), final_latents=z,
                images=images, begin_index=begin)


# ----------------------------------------------------------------------------------------------------------
# Deterministic fake components (mirrored exactly by Tests/BlendedLatentTests/FakeComponents.swift)
# ----------------------------------------------------------------------------------------------------------


class _Out:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class FakeVAE:
    """encode: 8x8 average pool, then a fixed 3->4 channel mix; decode: fixed 4->3 mix, tanh, nearest x8."""
    MIX_IN = torch.tensor([[0.5, -0.3, 0.2], [0.1, 0.4, -0.2], [-0.3, 0.2, 0.6], [0.25, 0.25, 0.25]])
    BIAS_IN = torch.tensor([0.1, -0.1, 0.05, 0.0])
    MIX_OUT = torch.tensor([[1.0, 0.5, -0.5, 0.2], [0.3, -0.8, 0.4, 0.1], [-0.2, 0.3, 0.9, -0.4]])

    def __init__(self):
        self.config = _Out(scaling_factor=0.18215)

    def encode(self, x):
        pooled = torch.nn.functional.avg_pool2d(x, 8)
        mean = torch.stack([sum(self.MIX_IN[c, k] * pooled[:, k] for k in range(3)) + self.BIAS_IN[c]
                            for c in range(4)], dim=1)
        return _Out(latent_dist=_Out(mean=mean))

    def decode(self, z):
        rgb = torch.stack([torch.tanh(sum(self.MIX_OUT[k, c] * z[:, c] for c in range(4))) for k in range(3)], dim=1)
        return _Out(sample=torch.nn.functional.interpolate(rgb, scale_factor=8, mode="nearest"))


class FakeUNet:
    """eps = tanh(0.5 x) * (1 + 0.1 mean(cond_n)) + 0.001 t + 0.05 (c - 1.5)."""

    def __call__(self, sample, timestep, encoder_hidden_states):
        scale = 1 + 0.1 * encoder_hidden_states.mean(dim=(1, 2))
        channel = 0.05 * (torch.arange(sample.shape[1], dtype=torch.float32) - 1.5)
        out = torch.tanh(0.5 * sample) * scale[:, None, None, None] + float(0.001 * float(timestep)) \
            + channel[None, :, None, None]
        return _Out(sample=out)


class FakeTokenizer:
    model_max_length = 77

    def __call__(self, prompts, **kwargs):
        ids = torch.zeros(len(prompts), 77, dtype=torch.int64)
        for n, prompt in enumerate(prompts):
            ids[n, 0] = sum(ord(ch) for ch in prompt) % 1000
        return _Out(input_ids=ids)


class FakeTextEncoder:
    """emb[n, p, d] = sin(0.1 (p + 1) (d + 1) + 0.01 id_n), D = 8."""

    def __call__(self, ids):
        p = np.arange(77, dtype=np.float64)[:, None]
        d = np.arange(8, dtype=np.float64)[None, :]
        rows = [np.sin(0.1 * (p + 1) * (d + 1) + 0.01 * float(ids[n, 0])).astype(np.float32) for n in range(ids.shape[0])]
        return (torch.from_numpy(np.stack(rows)),)


SD_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                    steps_offset=1, set_alpha_to_one=False, clip_sample=False, prediction_type="epsilon")

FAKE_CASES = [
    # name, scheduler class, config overrides, steps, strength, guidance, batch, seed, eta, mask mode, K, paste
    ("ddim-50-s075-b2", "DDIMScheduler", {}, 50, 0.75, 7.5, 2, 0, 0.0, "nearest", 0, None),
    ("ddim-20-s1-eta05-k3", "DDIMScheduler", {}, 20, 1.0, 5.0, 1, 7, 0.5, "nearest", 3, None),
    ("ddim-v-10-maxpool-paste", "DDIMScheduler", {"prediction_type": "v_prediction", "timestep_spacing": "trailing"},
     10, 0.8, 7.5, 2, 3, 0.0, "maxPool", 0, 2),
    ("dpm-karras-20-s06", "DPMSolverMultistepScheduler", {"use_karras_sigmas": True}, 20, 0.6, 7.5, 2, 11, 0.0,
     "nearest", 1, None),
    ("euler-15-s09", "EulerDiscreteScheduler", {}, 15, 0.9, 6.0, 1, 5, 0.0, "nearest", 0, 0),
    ("eulera-12-s075-b2", "EulerAncestralDiscreteScheduler", {}, 12, 0.75, 7.5, 2, 2024, 0.0, "nearest", 2, None),
]


def fake_inputs(H=40, W=48):
    yy, xx = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32), indexing="ij")
    image = torch.stack([0.5 + 0.4 * torch.sin(xx / 5), 0.5 + 0.4 * torch.cos(yy / 7), (xx + yy) / (H + W)])
    mask = ((xx - 20) ** 2 / 200 + (yy - 18) ** 2 / 120 < 1).to(torch.float32)
    mask[:, 44:46] = 1.0  # a thin stroke (2 px): vanishes with nearest at some cells, survives max-pool
    return image.clamp(0, 1), mask


def make_fake_fixtures(out: Path):
    import diffusers
    from safetensors.torch import save_file
    out.mkdir(parents=True, exist_ok=True)
    image, mask = fake_inputs()
    cases = []
    for name, cls, overrides, steps, strength, guidance, batch, seed, eta, mode, levels, paste in FAKE_CASES:
        config = {**SD_SCHEDULER, **overrides}
        scheduler = getattr(diffusers, cls).from_config(config)
        generator = torch.Generator().manual_seed(seed)
        result = blended_latent_edit(FakeUNet(), FakeVAE(), FakeTextEncoder(), FakeTokenizer(), scheduler, image, mask,
                                     "a red hat", negative_prompt="blurry", num_inference_steps=steps,
                                     guidance_scale=guidance, strength=strength, batch_size=batch, generator=generator,
                                     eta=eta, mask_mode=mode, shrink_levels=levels, paste_radius=paste)
        tensors = {k: result[k].contiguous() for k in ("z_init", "latent_mask", "step_latents", "final_latents", "images")}
        save_file(tensors, str(out / f"{name}.safetensors"))
        cases.append(dict(name=name, scheduler=cls, config=config, steps=steps, strength=strength, guidance=guidance,
                          batch=batch, seed=seed, eta=eta, mask_mode=mode, shrink_levels=levels, paste_radius=paste,
                          prompt="a red hat", negative_prompt="blurry", begin_index=result["begin_index"]))
    save_file({"image": image.contiguous(), "mask": mask.contiguous()}, str(out / "inputs.safetensors"))
    (out / "cases.json").write_text(json.dumps(dict(cases=cases), indent=1) + "\n")
    (out / "README.md").write_text(
        "# blended\n\nGenerated by `Tests/Reference/blended_latent_reference.py fake` "
        f"(torch {torch.__version__}, diffusers {diffusers.__version__}): the reference loop with the deterministic "
        "fake components defined in that script, one safetensors file per case in `cases.json`.\n")


# ----------------------------------------------------------------------------------------------------------
# Real / tiny models in diffusers layout
# ----------------------------------------------------------------------------------------------------------


def make_model_fixture(args):
    import diffusers
    import transformers
    from PIL import Image
    from safetensors.torch import save_file
    root = Path(args.model_dir)
    # Weights stored in fp16/bf16 (`--variant fp16`) are computed in float32, as the Swift side does.
    load = dict(variant=args.variant, torch_dtype=torch.float32)
    unet = diffusers.UNet2DConditionModel.from_pretrained(root / "unet", **load).eval()
    vae = diffusers.AutoencoderKL.from_pretrained(root / "vae", **load).eval()
    text_encoder = transformers.CLIPTextModel.from_pretrained(root / "text_encoder", **load).eval()
    tokenizer = transformers.CLIPTokenizer.from_pretrained(root / "tokenizer")
    config = json.loads((root / "scheduler" / "scheduler_config.json").read_text())
    scheduler = getattr(diffusers, args.scheduler).from_config(config)
    picture = Image.open(args.image).convert("RGB")
    matte = Image.open(args.mask).convert("L")
    if args.height and args.width:
        picture = picture.resize((args.width, args.height), Image.BICUBIC)
        matte = matte.resize((args.width, args.height), Image.NEAREST)
    image = torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()
    mask = torch.from_numpy(np.asarray(matte, dtype=np.float32) / 255.0).contiguous()
    generator = torch.Generator().manual_seed(args.seed)
    result = blended_latent_edit(unet, vae, text_encoder, tokenizer, scheduler, image, mask, args.prompt,
                                 negative_prompt=args.negative_prompt, num_inference_steps=args.steps,
                                 guidance_scale=args.guidance, strength=args.strength, batch_size=args.batch,
                                 generator=generator, eta=args.eta, mask_mode=args.mask_mode,
                                 shrink_levels=args.shrink_levels, paste_radius=args.paste_radius)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: result[k].contiguous() for k in ("z_init", "latent_mask", "step_latents", "final_latents", "images")}
    tensors.update(image=image, mask=mask)
    tensors["images_u8"] = torch.round(result["images"] * 255).to(torch.float32)
    save_file(tensors, str(out / "io.safetensors"))
    meta = dict(scheduler=args.scheduler, config=config, steps=args.steps, strength=args.strength,
                guidance=args.guidance, batch=args.batch, seed=args.seed, eta=args.eta, mask_mode=args.mask_mode,
                shrink_levels=args.shrink_levels, paste_radius=args.paste_radius, prompt=args.prompt,
                negative_prompt=args.negative_prompt, begin_index=result["begin_index"],
                torch=torch.__version__, diffusers=diffusers.__version__, transformers=transformers.__version__)
    (out / "case.json").write_text(json.dumps(meta, indent=1) + "\n")


def make_tiny_models(out: Path, seed: int = 0):
    """Tiny random SD-shaped models in diffusers layout (for `model --model-dir`): a 2-block UNet with cross
    attention (dim 32), a 4-level VAE (factor 8, 4 latent channels), a 2-layer CLIP text model and a byte-level
    CLIP tokenizer without merges (77-token context), and an SD DDIM scheduler config."""
    import diffusers
    import transformers
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    diffusers.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8).save_pretrained(out / "unet")
    diffusers.AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8, 8, 16, 16), latent_channels=4,
        norm_num_groups=4, layers_per_block=1).save_pretrained(out / "vae")
    transformers.CLIPTextModel(transformers.CLIPTextConfig(
        vocab_size=514, hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=77, bos_token_id=512, eos_token_id=513, pad_token_id=513,
        hidden_act="quick_gelu")).save_pretrained(out / "text_encoder")
    # CLIP's byte-to-unicode table: printable bytes map to themselves, the rest to 256 + n.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) \
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    extra = [b for b in range(256) if b not in printable]
    chars = [chr(b) for b in printable] + [chr(256 + n) for n in range(len(extra))]
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    vocab.update({"<|startoftext|>": 512, "<|endoftext|>": 513})
    (out / "tokenizer").mkdir(exist_ok=True)
    (out / "tokenizer" / "vocab.json").write_text(json.dumps(vocab))
    (out / "tokenizer" / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = transformers.CLIPTokenizer(str(out / "tokenizer" / "vocab.json"), str(out / "tokenizer" / "merges.txt"),
                                           model_max_length=77)
    tokenizer.save_pretrained(out / "tokenizer")
    (out / "scheduler").mkdir(exist_ok=True)
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(
        dict(_class_name="DDIMScheduler", **SD_SCHEDULER), indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    fake = sub.add_parser("fake", help="loop parity fixtures with deterministic fake components")
    fake.add_argument("--out", default="Tests/BlendedLatentTests/Fixtures/blended")
    tiny = sub.add_parser("tiny", help="write tiny random models in diffusers layout")
    tiny.add_argument("--out", required=True)
    tiny.add_argument("--seed", type=int, default=0)
    model = sub.add_parser("model", help="end-to-end fixture with models in diffusers layout")
    model.add_argument("--model-dir", required=True)
    model.add_argument("--image", required=True)
    model.add_argument("--mask", required=True)
    model.add_argument("--prompt", required=True)
    model.add_argument("--negative-prompt", default="")
    model.add_argument("--scheduler", default="DDIMScheduler")
    model.add_argument("--steps", type=int, default=50)
    model.add_argument("--strength", type=float, default=0.75)
    model.add_argument("--guidance", type=float, default=7.5)
    model.add_argument("--batch", type=int, default=1)
    model.add_argument("--seed", type=int, default=0)
    model.add_argument("--eta", type=float, default=0.0)
    model.add_argument("--mask-mode", choices=["nearest", "maxPool"], default="nearest")
    model.add_argument("--shrink-levels", type=int, default=0)
    model.add_argument("--paste-radius", type=int, default=None)
    model.add_argument("--height", type=int, default=None)
    model.add_argument("--width", type=int, default=None)
    model.add_argument("--variant", default=None, help="weight file variant, e.g. fp16")
    model.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "fake":
        make_fake_fixtures(Path(args.out))
    elif args.command == "tiny":
        make_tiny_models(Path(args.out), args.seed)
    else:
        make_model_fixture(args)


if __name__ == "__main__":
    main()
