"""Writes full-size Stable Diffusion 1.5- and 2.1-base-shaped diffusers folders with random weights, plus a
reference UNet output, for the opt-in full-size test (nothing here is committed: ~2-4 GB per folder).

Command (from the repository root):

    /work/venv-ref/bin/python Tests/Reference/make_full_size_models.py OUTDIR [--fp16] [--models sd15,sd21base,sdxl]
        [--threads N] [--batch 1]

For each model it writes OUTDIR/<model>/ (model_index.json, text_encoder/, tokenizer/, unet/, vae/, scheduler/;
with --fp16 the weights are float16 `*.fp16.safetensors` files, as in the published fp16 variants; the text
encoder keys are under `text_model.` like the published checkpoints) and OUTDIR/<model>/unet_reference.safetensors:

    sample [B, 4, 64, 64], encoder_hidden_states [B, 77, cross_attention_dim], timestep [1], output [B, 4, 64, 64]

The output is diffusers' UNet2DConditionModel run in float32 on exactly the stored weights (float16-rounded with
--fp16). It prints the time diffusers took. Run the Swift side with

    BLD_FULL_SIZE_MODEL=OUTDIR/sd21base swift test -c release --filter FullSizeModelTests
"""
import argparse
import os
import shutil
import sys
import time

import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_network_fixtures import prefix_text_encoder_keys, write_tiny_tokenizer  # noqa: E402

BLOCKS = dict(down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
              up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
              block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, sample_size=64)
MODELS = {
    "sd15": dict(
        unet=dict(BLOCKS, attention_head_dim=8, cross_attention_dim=768),
        clip=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                  hidden_act="quick_gelu", projection_dim=768),
        pad_token="<|endoftext|>"),
    "sd21base": dict(
        unet=dict(BLOCKS, attention_head_dim=(5, 10, 20, 20), cross_attention_dim=1024, use_linear_projection=True),
        clip=dict(hidden_size=1024, intermediate_size=4096, num_attention_heads=16, num_hidden_layers=23,
                  hidden_act="gelu", projection_dim=512),
        pad_token="!"),
}
VAE = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
           up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
           latent_channels=4, norm_num_groups=32, sample_size=512, scaling_factor=0.18215)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    parser.add_argument("--fp16", action="store_true")
    parser.add_argument("--models", default="sd15,sd21base")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = torch.float16 if args.fp16 else torch.float32
    for name in args.models.split(","):
        if name == "sdxl":
            write_sdxl(os.path.join(args.outdir, name), args.seed)
            continue
        spec = MODELS[name]
        torch.manual_seed(args.seed)
        with torch.no_grad():
            unet = UNet2DConditionModel(**spec["unet"]).eval()
            text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=49408, max_position_embeddings=77,
                                                        bos_token_id=49406, eos_token_id=49407, pad_token_id=1,
                                                        **spec["clip"])).eval()
            vae = AutoencoderKL(**VAE).eval()
            for model in (unet, text_encoder, vae):
                for parameter in model.parameters():
                    parameter.copy_(parameter.to(dtype).float())
        directory = os.path.join(args.outdir, name)
        shutil.rmtree(directory, ignore_errors=True)
        generator = torch.Generator().manual_seed(args.seed + 1)
        sample = torch.randn((args.batch, 4, 64, 64), generator=generator)
        context = torch.randn((args.batch, 77, spec["unet"]["cross_attention_dim"]), generator=generator)
        timestep = 981
        with torch.no_grad():
            start = time.perf_counter()
            output = unet(sample, timestep, encoder_hidden_states=context).sample
            seconds = time.perf_counter() - start
        print(f"{name}: diffusers UNet step (batch {args.batch}, 64x64, {args.threads} thread(s)): {seconds:.2f} s")

        scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                  clip_sample=False, set_alpha_to_one=False, steps_offset=1)
        pipeline = StableDiffusionPipeline(
            vae=vae.to(dtype), text_encoder=text_encoder.to(dtype), tokenizer=None, unet=unet.to(dtype),
            scheduler=scheduler, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        variant = "fp16" if args.fp16 else None
        pipeline.save_pretrained(directory, safe_serialization=True, variant=variant)
        write_tiny_tokenizer(os.path.join(directory, "tokenizer"), spec["pad_token"])
        import json
        index_path = os.path.join(directory, "model_index.json")
        with open(index_path) as f:
            index = json.load(f)
        index["tokenizer"] = ["transformers", "CLIPTokenizer"]
        with open(index_path, "w") as f:
            json.dump(index, f, indent=2)
        encoder_file = "model.fp16.safetensors" if args.fp16 else "model.safetensors"
        prefix_text_encoder_keys(os.path.join(directory, "text_encoder", encoder_file))
        save_file({"sample": sample, "encoder_hidden_states": context,
                   "timestep": torch.tensor([float(timestep)]), "output": output.contiguous()},
                  os.path.join(directory, "unet_reference.safetensors"))
        print(f"{name}: wrote {directory}")


def write_sdxl(directory, seed):
    """SDXL base 1.0's shapes with random fp16 weights, built in fp16 (the UNet alone is 5 GB), saved as the fp16
    variant with the real CLIP vocabulary for both tokenizers (from Tests/NetworksTests/Fixtures/tokenizer-vocab),
    so a single file loaded with the embedded configurations sees the same token ids. No reference output."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextModelWithProjection, CLIPTokenizer
    from make_checkpoint_layouts import SDXL_CLIP_G, SDXL_CLIP_L, SDXL_UNET
    torch.manual_seed(seed)
    torch.set_default_dtype(torch.float16)
    with torch.no_grad():
        unet = UNet2DConditionModel(**SDXL_UNET).eval()
        vae = AutoencoderKL(**dict(VAE, sample_size=1024, scaling_factor=0.13025, force_upcast=True)).eval()
        clip = dict(vocab_size=49408, max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
        text_encoder = CLIPTextModel(CLIPTextConfig(**clip, **SDXL_CLIP_L)).eval()
        text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(**clip, **SDXL_CLIP_G)).eval()
    torch.set_default_dtype(torch.float32)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    shutil.rmtree(directory, ignore_errors=True)
    fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "NetworksTests", "Fixtures")
    tokenizers = []
    for folder, flavour in (("tokenizer", "tokenizer-sd1"), ("tokenizer_2", "tokenizer-sd2")):
        path = os.path.join(directory, folder)
        os.makedirs(path, exist_ok=True)
        for source in (os.path.join(fixtures, "tokenizer-vocab"), os.path.join(fixtures, flavour)):
            for file in os.listdir(source):
                shutil.copy(os.path.join(source, file), path)
        tokenizers.append(CLIPTokenizer.from_pretrained(path))
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                                     tokenizer=tokenizers[0], tokenizer_2=tokenizers[1], unet=unet, scheduler=scheduler)
    pipe.save_pretrained(directory, safe_serialization=True, variant="fp16")
    print(f"sdxl: wrote {directory}")


if __name__ == "__main__":
    main()
