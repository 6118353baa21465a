"""Writes the tiny Stable Diffusion fixtures that the Networks parity tests load.

Command (from the repository root):

    /work/venv-ref/bin/python Tests/Reference/make_network_fixtures.py Tests/NetworksTests/Fixtures

For each configuration it writes `<name>/model/` (a real diffusers folder written by
`StableDiffusionPipeline.save_pretrained`: model_index.json, text_encoder/, tokenizer/, unet/, vae/, scheduler/) and
`<name>/io.safetensors` with inputs and the reference outputs:

* `sd1-tiny`: SD 1.x-like. quick_gelu CLIP, pad token `<|endoftext|>`, int `attention_head_dim`, conv
  `proj_in`/`proj_out`, VAE with mid-block attention, float32 weights, UNet weights sharded
  (`diffusion_pytorch_model.safetensors.index.json`).
* `sd2-tiny`: SD 2.x-like. gelu CLIP, pad token `!`, `use_linear_projection`, per-block `attention_head_dim`
  list, `transformer_layers_per_block` list, `freq_shift` 1, VAE without mid-block attention, float16 weights
  saved as the `fp16` variant (`*.fp16.safetensors`). References are computed from the float16-rounded
  weights in float32.

* `custom-tiny`: the unusual options, to show the code is general: bfloat16 weights as the `bf16` variant,
  gelu_new CLIP with 3 layers, UNet with DownBlock2D first, per-block `layers_per_block` and
  `cross_attention_dim` lists, `transformer_layers_per_block` 2, `center_input_sample`, 5×5 `conv_in`,
  1×1 `conv_out`, in/out channels 5/3, gelu `act_fn`, `flip_sin_to_cos` false, `mid_block_scale_factor` 2,
  `time_embedding_dim` 40; VAE with 6 latent channels, no quant convs, scaling factor 0.5.

Tensors in io.safetensors (all float32):
  clip.input_ids [3, 77] (token ids as floats), clip.last_hidden_state [3, 77, hidden]
  vae.image [2, 3, S, S] in [-1, 1], vae.mean, vae.logvar [2, latent, S/f, S/f] (logvar clamped as diffusers),
  vae.latents [2, latent, S/f, S/f], vae.decoded [2, 3, S, S]
  unet.sample [2, in, s, s], unet.encoder_hidden_states [2, 77, cross], unet.timesteps [k],
  unet.output.<i> [2, out, s, s] for the i-th timestep,
  unet.odd_sample [1, in, h, w] with h, w not multiples of 2^(blocks - 1), unet.odd_output at timestep 321
  (context: the first row of unet.encoder_hidden_states).

The tokenizer files are a tiny byte-level vocabulary (ids < 1000) only so the folders are complete; the real
CLIP vocabulary is tested by the tokenizer fixtures.
"""
import json
import os
import shutil
import sys

import torch
from diffusers import AutoencoderKL, DDIMScheduler, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from safetensors.torch import load_file, save_file
from transformers import CLIPTextConfig, CLIPTextModel

torch.set_num_threads(1)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def write_tiny_tokenizer(directory, pad_token):
    """A byte-level CLIP vocabulary (518 entries, ids < 1000) in the four files of an SD `tokenizer/` folder."""
    os.makedirs(directory, exist_ok=True)
    symbols = bytes_to_unicode()
    vocab = {}
    for s in symbols:
        vocab[s] = len(vocab)
    for s in symbols:
        vocab[s + "</w>"] = len(vocab)
    merges = [("t", "h"), ("th", "e</w>"), ("a", "n"), ("an", "d</w>")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    with open(os.path.join(directory, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    with open(os.path.join(directory, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": pad_token,
               "unk_token": "<|endoftext|>"}
    with open(os.path.join(directory, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=2)
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump(dict(special, add_prefix_space=False, do_lower_case=True, errors="replace", model_max_length=77,
                       tokenizer_class="CLIPTokenizer"), f, indent=2)


def prefix_text_encoder_keys(path):
    """Rewrites a transformers-5 text encoder file in the layout of the published SD 1.x checkpoints:
    keys under `text_model.`, plus the int64 `text_model.embeddings.position_ids` buffer."""
    tensors = load_file(path)
    renamed = {"text_model." + k: v for k, v in tensors.items()}
    positions = next(v for k, v in tensors.items() if k.endswith("position_embedding.weight")).shape[0]
    renamed["text_model.embeddings.position_ids"] = torch.arange(positions, dtype=torch.int64)[None]
    save_file(renamed, path, metadata={"format": "pt"})


def perturb(model, generator, scale=0.05):
    """Non-trivial norms and biases so that every loaded tensor influences the outputs."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.add_(scale * torch.randn(parameter.shape, generator=generator))
            elif parameter.ndim == 1 and name.endswith("weight"):  # group / layer norms
                parameter.copy_(1 + scale * torch.randn(parameter.shape, generator=generator))


SD1 = dict(
    name="sd1-tiny",
    dtype=torch.float32,
    variant=None,
    shard="400KB",
    pad_token="<|endoftext|>",
    clip=dict(vocab_size=1000, hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2,
              max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=32,
              bos_token_id=998, eos_token_id=999, pad_token_id=1),
    unet=dict(sample_size=8, in_channels=4, out_channels=4, block_out_channels=(32, 32), layers_per_block=1,
              down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
              up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
              attention_head_dim=4, cross_attention_dim=32, norm_num_groups=8),
    vae=dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
             up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(16, 24), layers_per_block=1,
             latent_channels=4, norm_num_groups=8, sample_size=16, scaling_factor=0.18215),
    scheduler="pndm",
    odd_size=(9, 7),
)

SD2 = dict(
    name="sd2-tiny",
    dtype=torch.float16,
    variant="fp16",
    shard=None,
    pad_token="!",
    clip=dict(vocab_size=1000, hidden_size=24, intermediate_size=48, num_attention_heads=3, num_hidden_layers=2,
              max_position_embeddings=77, hidden_act="gelu", layer_norm_eps=1e-5, projection_dim=24,
              bos_token_id=998, eos_token_id=999, pad_token_id=0),
    unet=dict(sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 16, 32), layers_per_block=2,
              down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
              up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
              attention_head_dim=(2, 2, 4), cross_attention_dim=24, norm_num_groups=8, use_linear_projection=True,
              transformer_layers_per_block=(1, 2, 1), freq_shift=1),
    vae=dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 3,
             up_block_types=("UpDecoderBlock2D",) * 3, block_out_channels=(16, 16, 32), layers_per_block=1,
             latent_channels=4, norm_num_groups=8, sample_size=16, scaling_factor=0.18215,
             mid_block_add_attention=False),
    scheduler="ddim",
    odd_size=(10, 6),
)


CUSTOM = dict(
    name="custom-tiny",
    dtype=torch.bfloat16,
    variant="bf16",
    shard=None,
    pad_token="!",
    clip=dict(vocab_size=1000, hidden_size=16, intermediate_size=40, num_attention_heads=2, num_hidden_layers=3,
              max_position_embeddings=77, hidden_act="gelu_new", layer_norm_eps=1e-6, projection_dim=16,
              bos_token_id=998, eos_token_id=999, pad_token_id=0),
    unet=dict(sample_size=8, in_channels=5, out_channels=3, block_out_channels=(8, 16), layers_per_block=(1, 2),
              down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
              up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
              attention_head_dim=(2, 4), cross_attention_dim=(16, 16), norm_num_groups=4,
              transformer_layers_per_block=2, center_input_sample=True, conv_in_kernel=5, conv_out_kernel=1,
              act_fn="gelu", flip_sin_to_cos=False, freq_shift=1, mid_block_scale_factor=2, norm_eps=1e-6,
              time_embedding_dim=40),
    vae=dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 3,
             up_block_types=("UpDecoderBlock2D",) * 3, block_out_channels=(8, 16, 16), layers_per_block=2,
             latent_channels=6, norm_num_groups=4, sample_size=16, scaling_factor=0.5,
             use_quant_conv=False, use_post_quant_conv=False),
    scheduler="ddim",
    odd_size=(5, 3),
    timesteps=[7, 640],
)


def build(spec, seed):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(**spec["clip"])).eval()
    unet = UNet2DConditionModel(**spec["unet"]).eval()
    vae = AutoencoderKL(**spec["vae"]).eval()
    for model in (text_encoder, unet, vae):
        perturb(model, generator)
        # The reference outputs use exactly the weights that are stored (rounded when stored as float16).
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.copy_(parameter.to(spec["dtype"]).to(torch.float32))
    return text_encoder, unet, vae, generator


def main(out_root):
    for seed, spec in enumerate((SD1, SD2, CUSTOM)):
        write_fixture(spec, seed, out_root)


def write_fixture(spec, seed, out_root):
    """Writes `<out_root>/<spec name>/{model/, io.safetensors, README.md}` for one configuration."""
    if True:
        text_encoder, unet, vae, generator = build(spec, seed + 1)
        directory = os.path.join(out_root, spec["name"])
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        if spec["scheduler"] == "pndm":
            scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                      set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1)
        else:
            scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)

        tensors = {}
        with torch.no_grad():
            ids = torch.randint(0, spec["clip"]["vocab_size"], (3, 77), generator=generator)
            ids[:, 0] = 998
            ids[1, 10:] = 999
            tensors["clip.input_ids"] = ids.float()
            tensors["clip.last_hidden_state"] = text_encoder(ids).last_hidden_state

            size = spec["vae"]["sample_size"]
            image = torch.rand((2, 3, size, size), generator=generator) * 2 - 1
            posterior = vae.encode(image).latent_dist
            tensors["vae.image"] = image
            tensors["vae.mean"] = posterior.mean
            tensors["vae.logvar"] = posterior.logvar
            latents = torch.randn(posterior.mean.shape, generator=generator)
            tensors["vae.latents"] = latents
            tensors["vae.decoded"] = vae.decode(latents).sample

            s = spec["unet"]["sample_size"]
            sample = torch.randn((2, spec["unet"]["in_channels"], s, s), generator=generator)
            cross = spec["unet"]["cross_attention_dim"]
            cross = cross if isinstance(cross, int) else cross[0]
            context = torch.randn((2, 77, cross), generator=generator)
            timesteps = spec.get("timesteps", [981, 1] if seed == 0 else [999, 500])
            tensors["unet.sample"] = sample
            tensors["unet.encoder_hidden_states"] = context
            tensors["unet.timesteps"] = torch.tensor(timesteps, dtype=torch.float32)
            for index, t in enumerate(timesteps):
                tensors[f"unet.output.{index}"] = unet(sample, t, encoder_hidden_states=context).sample
            # A latent size that is not a multiple of 2^(blocks - 1) (diffusers' forward_upsample_size).
            odd = spec["odd_size"]
            odd_sample = torch.randn((1, spec["unet"]["in_channels"], odd[0], odd[1]), generator=generator)
            tensors["unet.odd_sample"] = odd_sample
            tensors["unet.odd_output"] = unet(odd_sample, 321, encoder_hidden_states=context[:1]).sample

        pipeline = StableDiffusionPipeline(
            vae=vae.to(spec["dtype"]), text_encoder=text_encoder.to(spec["dtype"]),
            tokenizer=None, unet=unet.to(spec["dtype"]), scheduler=scheduler,
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        model_directory = os.path.join(directory, "model")
        if spec["shard"]:
            pipeline.save_pretrained(model_directory, safe_serialization=True, variant=spec["variant"])
            # Re-save only the UNet sharded, so the folder exercises *.safetensors.index.json.
            shutil.rmtree(os.path.join(model_directory, "unet"))
            unet.save_pretrained(os.path.join(model_directory, "unet"), safe_serialization=True,
                                 max_shard_size=spec["shard"])
        else:
            pipeline.save_pretrained(model_directory, safe_serialization=True, variant=spec["variant"])
        write_tiny_tokenizer(os.path.join(model_directory, "tokenizer"), spec["pad_token"])
        index_path = os.path.join(model_directory, "model_index.json")
        with open(index_path) as f:
            index = json.load(f)
        index["tokenizer"] = ["transformers", "CLIPTokenizer"]
        with open(index_path, "w") as f:
            json.dump(index, f, indent=2)
        if spec["variant"] is None:
            prefix_text_encoder_keys(os.path.join(model_directory, "text_encoder", "model.safetensors"))
        save_file({k: v.contiguous().float() for k, v in tensors.items()}, os.path.join(directory, "io.safetensors"))
        with open(os.path.join(directory, "README.md"), "w") as f:
            f.write(f"# {spec['name']}\n\nGenerated by `Tests/Reference/make_network_fixtures.py` "
                    f"(torch {torch.__version__}, diffusers {__import__('diffusers').__version__}, "
                    f"transformers {__import__('transformers').__version__}). Do not edit by hand.\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/NetworksTests/Fixtures")
