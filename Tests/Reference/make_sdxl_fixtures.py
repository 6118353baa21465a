"""Writes the tiny SDXL fixture: a real diffusers StableDiffusionXLPipeline folder (two text encoders — CLIPTextModel
and CLIPTextModelWithProjection — two tokenizers, a UNet with `addition_embed_type: text_time`, the VAE, the Euler
scheduler of SDXL) with random weights, and `io.safetensors` with reference outputs computed by diffusers and
transformers in float32 from the float16 weights.

Command (from the repository root):

    /work/venv-ref/bin/python Tests/Reference/make_sdxl_fixtures.py Tests/NetworksTests/Fixtures/sdxl-tiny

The UNet mirrors SDXL's structure at toy size: no attention in the first down block, transformer depth per block
[1, 2] (mid block 2), head counts from `attention_head_dim` [2, 4], linear projections, cross-attention width
24 + 32 (the two encoders' hidden sizes), pooled width 16 and 8-wide time-id sinusoids (16 + 6 × 8 = 64 inputs
to `add_embedding`). Encoder 1 has the legacy `eos_token_id` 2 (pooled at the largest id), encoder 2 the
tokenizer's real end-of-text id (pooled at its first occurrence).

Tensors in io.safetensors (float32):
  te1.input_ids [2, 77], te1.last_hidden_state, te1.penultimate [2, 77, 24], te1.pooled [2, 24]
  te2.input_ids [2, 77], te2.penultimate [2, 77, 32], te2.text_embeds [2, 16]
  unet.sample [2, 4, 8, 8], unet.context [2, 77, 56], unet.text_embeds [2, 16], unet.time_ids [2, 6],
  unet.output [2, 4, 8, 8] at timestep 500
  vae.latents [1, 4, 8, 8], vae.decoded [1, 3, 32, 32]
  prompt.embeds, prompt.negative_embeds [1, 77, 56], prompt.pooled, prompt.negative_pooled [1, 16]: diffusers'
  StableDiffusionXLPipeline.encode_prompt("a red hat", negative_prompt=None) (zeros for the empty negative)
"""
import os
import sys

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_network_fixtures import perturb, write_tiny_tokenizer  # noqa: E402

torch.set_num_threads(1)


def main(out):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    clip = dict(vocab_size=1000, max_position_embeddings=77, layer_norm_eps=1e-5, bos_token_id=516, pad_token_id=0)
    text_encoder = CLIPTextModel(CLIPTextConfig(hidden_size=24, intermediate_size=48, num_attention_heads=3,
                                                num_hidden_layers=3, hidden_act="quick_gelu", projection_dim=24,
                                                eos_token_id=2, **clip)).eval()
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(
        hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=3, hidden_act="gelu",
        projection_dim=16, eos_token_id=517, **clip)).eval()
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32), layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2), attention_head_dim=(2, 4), cross_attention_dim=56,
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=64, norm_num_groups=8).eval()
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 3,
                        up_block_types=("UpDecoderBlock2D",) * 3, block_out_channels=(8, 16, 16), layers_per_block=1,
                        latent_channels=4, norm_num_groups=8, sample_size=32, scaling_factor=0.13025,
                        force_upcast=True).eval()
    for model in (text_encoder, text_encoder_2, unet, vae):
        perturb(model, generator)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.copy_(parameter.half().float())
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading", interpolation_type="linear",
                                       use_karras_sigmas=False, prediction_type="epsilon")
    folder = os.path.join(out, "model")
    write_tiny_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>")
    write_tiny_tokenizer(os.path.join(folder, "tokenizer_2"), "!")
    tokenizer = CLIPTokenizer.from_pretrained(os.path.join(folder, "tokenizer"))
    tokenizer_2 = CLIPTokenizer.from_pretrained(os.path.join(folder, "tokenizer_2"))
    pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2,
                                     tokenizer=tokenizer, tokenizer_2=tokenizer_2, unet=unet, scheduler=scheduler)
    pipe.to(torch.float16).save_pretrained(folder, safe_serialization=True, variant="fp16")
    pipe.to(torch.float32)

    tensors = {}
    with torch.no_grad():
        prompts = ["a red hat", ""]
        ids1 = tokenizer(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
        ids2 = tokenizer_2(prompts, padding="max_length", max_length=77, truncation=True,
                           return_tensors="pt").input_ids
        out1 = text_encoder(ids1, output_hidden_states=True)
        out2 = text_encoder_2(ids2, output_hidden_states=True)
        tensors.update({"te1.input_ids": ids1.float(), "te1.last_hidden_state": out1.last_hidden_state,
                        "te1.penultimate": out1.hidden_states[-2], "te1.pooled": out1.pooler_output,
                        "te2.input_ids": ids2.float(), "te2.penultimate": out2.hidden_states[-2],
                        "te2.text_embeds": out2.text_embeds})
        sample = torch.randn((2, 4, 8, 8), generator=generator)
        context = torch.randn((2, 77, 56), generator=generator)
        text_embeds = torch.randn((2, 16), generator=generator)
        time_ids = torch.tensor([[32.0, 32.0, 0.0, 0.0, 32.0, 32.0], [48.0, 40.0, 8.0, 4.0, 32.0, 24.0]])
        output = unet(sample, 500, encoder_hidden_states=context,
                      added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}).sample
        tensors.update({"unet.sample": sample, "unet.context": context, "unet.text_embeds": text_embeds,
                        "unet.time_ids": time_ids, "unet.output": output})
        latents = torch.randn((1, 4, 8, 8), generator=generator)
        tensors.update({"vae.latents": latents, "vae.decoded": vae.decode(latents).sample})
        embeds, negative, pooled, negative_pooled = pipe.encode_prompt(
            "a red hat", device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=True,
            negative_prompt=None)
        tensors.update({"prompt.embeds": embeds, "prompt.negative_embeds": negative, "prompt.pooled": pooled,
                        "prompt.negative_pooled": negative_pooled})
    save_file({k: v.contiguous().float() for k, v in tensors.items()}, os.path.join(out, "io.safetensors"))
    print("wrote", out)


if __name__ == "__main__":
    main(sys.argv[1])
