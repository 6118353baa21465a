"""End-to-end parity fixtures: the Python reference loop (blended_latent_reference.py, on diffusers and
transformers components) run on the tiny diffusers folders of Tests/NetworksTests/Fixtures, with the
torch generator seeded as `bld --seed` seeds it.

Each case folder Tests/BlendedLatentTests/Fixtures/e2e-<name>/ holds image.png and mask.png at the model's
native resolution (so `bld` edits them without resizing), io.safetensors (z_init, latent mask, latents after
every step, final latents, images in [0, 1] and as 8-bit values) and case.json (settings and versions).

Run:  /path/to/venv-ref/bin/python Tests/Reference/make_end_to_end_fixtures.py [CASE ...]
"""
import json
import pathlib
import subprocess
import sys

from PIL import Image

root = pathlib.Path(__file__).resolve().parents[2]
tests = root / "Tests"
reference = tests / "Reference" / "blended_latent_reference.py"

CASES = [
    dict(name="sd2-ddim", model="sd2-tiny", size=32, prompt="a wooden rowing boat on the lake",
         args=["--scheduler", "DDIMScheduler", "--steps", "20", "--strength", "0.75", "--guidance", "7.5",
               "--seed", "42", "--batch", "2"]),
    dict(name="sd1-dpm-shrink", model="sd1-tiny", size=16, prompt="a red hat!", negative="blurry, low quality",
         args=["--scheduler", "DPMSolverMultistepScheduler", "--steps", "12", "--strength", "1.0",
               "--guidance", "5.0", "--seed", "7", "--batch", "1", "--shrink-levels", "1"]),
    dict(name="sd2-euler-a-maxpool", model="sd2-tiny", size=32, prompt="snowy mountains",
         args=["--scheduler", "EulerAncestralDiscreteScheduler", "--steps", "10", "--strength", "0.6",
               "--guidance", "3.0", "--seed", "123", "--batch", "1", "--mask-mode", "maxPool"]),
    # Few steps: LCM at 4 steps, strength 0.75 (timesteps 739, 559, 379, 199, all run), guidance 1 (no
    # unconditional batch).
    dict(name="sd1-lcm-4", model="sd1-tiny", size=16, prompt="a red hat!",
         args=["--scheduler", "LCMScheduler", "--steps", "4", "--strength", "0.75", "--guidance", "1.0",
               "--seed", "5", "--batch", "2"]),
]

# Optional arguments: the names of the cases to (re)generate (default: all).
selected = set(sys.argv[1:])
for case in CASES:
    if selected and case["name"] not in selected:
        continue
    out = tests / "BlendedLatentTests" / "Fixtures" / f"e2e-{case['name']}"
    out.mkdir(parents=True, exist_ok=True)
    size = case["size"]
    Image.open(root / "Examples" / "lake.png").convert("RGB").resize((size, size), Image.BICUBIC).save(out / "image.png")
    Image.open(root / "Examples" / "lake-mask.png").convert("L").resize((size, size), Image.NEAREST).save(out / "mask.png")
    command = [sys.executable, str(reference), "model",
               "--model-dir", str(tests / "NetworksTests" / "Fixtures" / case["model"] / "model"),
               "--image", str(out / "image.png"), "--mask", str(out / "mask.png"),
               "--prompt", case["prompt"], "--negative-prompt", case.get("negative", ""),
               "--out", str(out)] + case["args"]
    if case["model"] == "sd2-tiny":
        command += ["--variant", "fp16"]
    subprocess.run(command, check=True)
    meta = json.loads((out / "case.json").read_text())
    meta["model"] = case["model"]
    (out / "case.json").write_text(json.dumps(meta, indent=1) + "\n")
    print("wrote", out)
