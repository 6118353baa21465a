"""Writes Tests/TensorCoreTests/Fixtures/safetensors/: a file saved by the `safetensors` package with
F32, F16, BF16 and I64 tensors, and the float32 values each must read back as.

Run:  /path/to/venv-ref/bin/python Tests/Reference/make_safetensors_fixtures.py
"""
import json
import pathlib

import torch
from safetensors.torch import save_file

out = pathlib.Path(__file__).resolve().parents[1] / "TensorCoreTests" / "Fixtures" / "safetensors"
out.mkdir(parents=True, exist_ok=True)
g = torch.Generator().manual_seed(0)
tensors = {
    "f32": torch.randn(3, 5, generator=g),
    "f16": (torch.randn(2, 3, 4, generator=g) * 100).to(torch.float16),
    "bf16": (torch.randn(7, generator=g) * 1e-3).to(torch.bfloat16),
    "i64": torch.arange(6, dtype=torch.int64).reshape(2, 3) - 2,
    "scalar": torch.tensor(2.5),
    "empty": torch.zeros(0, 4),
}
save_file(tensors, str(out / "mixed.safetensors"), metadata={"format": "pt"})
expected = {k: {"shape": list(v.shape), "values": v.float().flatten().tolist()} for k, v in tensors.items()}
(out / "mixed.json").write_text(json.dumps(expected, indent=1))
print("wrote", out)
