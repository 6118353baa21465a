"""Writes Tests/BlendedLatentTests/Fixtures/ranking-resize/cases.safetensors: CLIPRanker's preprocessing
(image × mask, black padding to a centred square when H ≠ W, torch bicubic antialiased resize to 32) on
sizes that exercise downscaling by non-integer factors, upscaling, a near-identity factor and non-square
inputs. For each case `k`: `image_k [3,H,W]`, `mask_k [H,W]`, `resized_k [3,32,32]`.

The padding rule mirrors CLIPRanker's documented policy: side S = max(H, W), floor((S − H) / 2) rows on top,
floor((S − W) / 2) columns on the left.

Run:  /path/to/venv-ref/bin/python Tests/Reference/make_ranking_resize_fixtures.py
"""
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.set_num_threads(1)
root = pathlib.Path(__file__).resolve().parents[1]
out = root / "BlendedLatentTests" / "Fixtures" / "ranking-resize"
out.mkdir(parents=True, exist_ok=True)

g = torch.Generator().manual_seed(7)
sizes = [(100, 100), (20, 20), (33, 33), (30, 45), (57, 41), (70, 70)]
tensors = {}
for k, (h, w) in enumerate(sizes):
    image = torch.rand(3, h, w, generator=g)
    mask = (torch.rand(h, w, generator=g) > 0.4).float()
    s = max(h, w)
    top, left = (s - h) // 2, (s - w) // 2
    square = torch.zeros(1, 3, s, s)
    square[0, :, top:top + h, left:left + w] = image * mask
    resized = F.interpolate(square, size=(32, 32), mode="bicubic", antialias=True, align_corners=False)
    tensors[f"image_{k}"] = image.contiguous()
    tensors[f"mask_{k}"] = mask.contiguous()
    tensors[f"resized_{k}"] = resized[0].contiguous()
save_file(tensors, str(out / "cases.safetensors"))
print(len(sizes), "cases")
