"""Fixtures for the decoder fine-tuning parity tests (Tests/BlendedLatentTests/DecoderFineTuning*.swift).

Run from the repository root:
    /work/venv-ref/bin/python Tests/Reference/make_decoder_finetune_fixtures.py

Builds a tiny diffusers AutoencoderKL (random, seeded; parameters perturbed so group-norm affines are not 1/0),
then runs the paper's loss with torch autograd and torch.optim.Adam on the decoder parameters only
(post_quant_conv and the latent are frozen) and writes, under
Tests/BlendedLatentTests/Fixtures/decoder-finetune/:
  config.json                 the VAE config fields plus the optimisation settings
  initial.safetensors         decoder.* initial weights and post_quant_conv.*
  inputs.safetensors          latent (before post_quant_conv), decoder_input (after post_quant_conv),
                              edited (x̂), original (x), mask [1, 1, H, W] (soft edge)
  gradients.safetensors       dL/dθ for every decoder parameter at iteration 1, plus output_1 (D_θ0(z)), loss_1
  final.safetensors           decoder.* weights after `iterations` Adam steps, output (D_θ5(z)), losses [iterations]
"""
import json
import os

import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file

torch.set_num_threads(1)
torch.manual_seed(0)

OUT = os.path.join(os.path.dirname(__file__), "..", "BlendedLatentTests", "Fixtures", "decoder-finetune")
os.makedirs(OUT, exist_ok=True)

config = dict(
    in_channels=3, out_channels=3, latent_channels=4,
    down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
    block_out_channels=[16, 32], layers_per_block=1, norm_num_groups=8, sample_size=16,
)
ITERATIONS, LR, LAMBDA = 5, 1e-3, 100.0
vae = AutoencoderKL(**config).float()
with torch.no_grad():
    for name, p in vae.named_parameters():
        if "norm" in name and name.endswith("weight"):
            p.copy_(1 + 0.2 * torch.randn_like(p))
        else:
            p.add_(0.05 * torch.randn_like(p))

height = width = 16
latent = torch.randn(1, 4, height // 2, width // 2)
with torch.no_grad():
    decoder_input = vae.post_quant_conv(latent)
    base = vae.decoder(decoder_input)
original = (base + 0.3 * torch.randn_like(base)).clamp(-1, 1)
edited = torch.rand_like(base) * 2 - 1
mask = torch.zeros(1, 1, height, width)
mask[:, :, 4:11, 5:13] = 1
mask[:, :, 3, 5:13] = 0.5  # a soft edge exercises the m² terms
mask[:, :, 4:11, 4] = 0.25

params = [p for n, p in vae.named_parameters() if n.startswith("decoder.")]
names = [n for n, p in vae.named_parameters() if n.startswith("decoder.")]
for n, p in vae.named_parameters():
    p.requires_grad_(n.startswith("decoder."))
initial = {n: p.detach().clone() for n, p in vae.named_parameters() if n.startswith("decoder.") or n.startswith("post_quant_conv.")}
optimizer = torch.optim.Adam(params, lr=LR, betas=(0.9, 0.999), eps=1e-8)


def loss_of(y):
    return torch.nn.functional.mse_loss(y * mask, edited * mask) + LAMBDA * torch.nn.functional.mse_loss(
        y * (1 - mask), original * (1 - mask))


losses = []
gradients = {}
for iteration in range(ITERATIONS):
    optimizer.zero_grad()
    y = vae.decoder(decoder_input)
    loss = loss_of(y)
    loss.backward()
    losses.append(loss.item())
    if iteration == 0:
        gradients = {n: p.grad.detach().clone() for n, p in zip(names, params)}
        gradients["output_1"] = y.detach().clone()
        gradients["loss_1"] = loss.detach().reshape(1).clone()
    optimizer.step()

with torch.no_grad():
    final_output = vae.decoder(decoder_input)
final = {n: p.detach().clone() for n, p in zip(names, params)}
final["output"] = final_output
final["losses"] = torch.tensor(losses, dtype=torch.float32)

save_file({k: v.contiguous() for k, v in initial.items()}, os.path.join(OUT, "initial.safetensors"))
save_file({"latent": latent, "decoder_input": decoder_input, "edited": edited, "original": original, "mask": mask},
          os.path.join(OUT, "inputs.safetensors"))
save_file({k: v.contiguous() for k, v in gradients.items()}, os.path.join(OUT, "gradients.safetensors"))
save_file({k: v.contiguous() for k, v in final.items()}, os.path.join(OUT, "final.safetensors"))
with open(os.path.join(OUT, "config.json"), "w") as f:
    json.dump(dict(config, iterations=ITERATIONS, learning_rate=LR, background_weight=LAMBDA,
                   parameter_names=names), f, indent=1)
total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
print("decoder parameters:", sum(p.numel() for p in params), "losses:", losses, "bytes:", total)
