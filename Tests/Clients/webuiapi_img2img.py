"""Drives `bld serve`'s AUTOMATIC1111 API with the `webuiapi` client from PyPI.

Usage: python webuiapi_img2img.py PORT IMAGE MASK OUTPUT.png
  1. img2img with mask_image (DDIM, eta 0, 12 steps, cfg 5, strength 0.75, seed 7, mask_blur 2, not full-res)
     writes the result to OUTPUT.png (the Swift test compares it with `bld edit`).
  2. Starts a long img2img in a thread, polls get_progress() until a step is reported, calls interrupt(),
     and checks the interrupted call still answers (A1111 returns what finished: no image here).
Prints one JSON line with what it saw; exits non-zero on any failure.
"""
import json
import sys
import threading
import time

import webuiapi
from PIL import Image

port, image_path, mask_path, output_path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
api = webuiapi.WebUIApi(host="127.0.0.1", port=port, sampler="DDIM", steps=12)
image = Image.open(image_path)
mask = Image.open(mask_path)

assert api.get_options()["sd_model_checkpoint"], "options names the model"
assert any(s["name"] == "DDIM" for s in api.get_samplers()), "samplers lists DDIM"
assert len(api.get_sd_models()) == 1, "one model"

result = api.img2img(
    images=[image], mask_image=mask, prompt="a red hat!", negative_prompt="blurry, low quality",
    denoising_strength=0.75, cfg_scale=5, seed=7, eta=0, mask_blur=2, inpainting_fill=1, inpaint_full_res=False,
    width=image.width, height=image.height, sampler_name="DDIM", steps=12)
result.image.save(output_path)
info = result.info
assert info["seed"] == 7 and info["all_seeds"] == [7], info
assert result.image.size == image.size, result.image.size

# Progress and interrupt on a long edit.
outcome = {}
def long_edit():
    outcome["result"] = api.img2img(
        images=[image], mask_image=mask, prompt="a red hat!", denoising_strength=1.0, cfg_scale=5, seed=8,
        mask_blur=0, inpaint_full_res=False, width=image.width, height=image.height, sampler_name="DDIM",
        steps=150)
thread = threading.Thread(target=long_edit)
thread.start()
seen_step = 0
deadline = time.time() + 120
while time.time() < deadline:
    progress = api.get_progress()
    seen_step = progress["state"]["sampling_step"]
    if seen_step > 0:
        break
    time.sleep(0.02)
assert seen_step > 0, "progress reported a step"
assert 0 < progress["progress"] <= 1, progress
api.interrupt()
thread.join(timeout=120)
assert not thread.is_alive(), "the interrupted img2img answered"
interrupted = outcome["result"]
assert interrupted.info["interrupted"] is True, interrupted.info
assert api.get_progress()["state"]["sampling_steps"] == 0, "idle after the interrupt"
print(json.dumps({"seed": info["seed"], "unsupported": info["unsupported"], "progress_step": seen_step,
                  "progress_fraction": progress["progress"], "interrupted_images": len(interrupted.images)}))
