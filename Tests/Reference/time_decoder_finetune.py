"""Times paper-mode decoder fine-tuning iterations with torch autograd, for Benchmarks/compare_with_pytorch.py.

Run from the repository root (reference environment, see requirements.txt):
    python Tests/Reference/time_decoder_finetune.py [--size 256 512] [--threads 2] [--iterations 2]

For each size: a full-size Stable Diffusion `AutoencoderKL` from diffusers with its default (random) initialisation,
seeded; only the decoder is trained (post_quant_conv and the latent are frozen). Inputs as bld-bench's
`finetune-SIZE-paper`: batch 1, a random latent, the mask a centred square of a quarter of the image, x̂ = D(z) and
x = D(z) plus a smooth colour drift and fine noise. One iteration is the paper's loss
MSE(D(z)⊙m, x̂⊙m) + 100·MSE(D(z)⊙(1−m), x⊙(1−m)), its backward pass and one torch.optim.Adam step (lr 1e-4).
Prints one JSON line per size: every iteration's seconds, `iteration_s` (the last, after the first has set up the
allocator and oneDNN), the loss and the process's peak RSS (ru_maxrss, which includes every size run so far).
"""
import argparse
import json
import os
import resource
import time

import torch
from diffusers import AutoencoderKL


def time_size(size, iterations):
    torch.manual_seed(0)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, norm_num_groups=32,
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
    decoder = vae.decoder.float().train()
    z = torch.rand(1, 4, size // 8, size // 8) * 2 - 1
    with torch.no_grad():
        z = vae.post_quant_conv(z)
        edited = decoder(z)
        rows = torch.arange(size, dtype=torch.float32).view(1, 1, size, 1)
        columns = torch.arange(size, dtype=torch.float32).view(1, 1, 1, size)
        channels = torch.arange(3, dtype=torch.float32).view(1, 3, 1, 1)
        drift = 0.05 * torch.sin(rows * 0.05 + channels) * torch.cos(columns * 0.04)
        original = edited + drift + 0.02 * (torch.rand(edited.shape) * 2 - 1)
        mask = torch.zeros(1, 1, size, size)
        mask[:, :, size // 4:3 * size // 4, size // 4:3 * size // 4] = 1
    optimizer = torch.optim.Adam(decoder.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    times, losses = [], []
    for _ in range(iterations):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        output = decoder(z)
        loss = torch.nn.functional.mse_loss(output * mask, edited * mask) + 100 * torch.nn.functional.mse_loss(
            output * (1 - mask), original * (1 - mask))
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
        losses.append(loss.item())
    return {"case": f"finetune-{size}-paper", "framework": "pytorch", "iteration_s": times[-1],
            "iteration_runs_s": times, "losses": losses, "threads": torch.get_num_threads(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "torch": torch.__version__, "load_average": [round(v, 2) for v in os.getloadavg()]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for size in args.size:
        print(json.dumps(time_size(size, args.iterations)), flush=True)


if __name__ == "__main__":
    main()
