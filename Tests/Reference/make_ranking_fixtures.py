"""Writes Tests/BlendedLatentTests/Fixtures/clip-ranking/: a tiny random transformers `CLIPModel`
(config.json + model.safetensors, the layout of e.g. openai/clip-vit-base-patch16 without tokenizer files)
and io.safetensors with a ranking case computed the way Documentation/Method.md specifies (paper §4.4):

  each result × pixel mask (background black) → resize the whole square to the vision size
  (bicubic, antialiased: torch `interpolate(mode="bicubic", antialias=True)`, PIL's filter) →
  CLIP normalisation → image embedding; prompt → text embedding; cosine distance; ascending rank.

The tokenizer is the real CLIP BPE (the test assembles it from Tests/NetworksTests/Fixtures); the prompt's
ids are stored too so the ranking can be checked independently of the tokenizer.

Run:  /path/to/venv-ref/bin/python Tests/Reference/make_ranking_fixtures.py
"""
import gzip
import pathlib

import open_clip
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

torch.manual_seed(0)
torch.set_num_threads(1)
root = pathlib.Path(__file__).resolve().parents[1]
out = root / "BlendedLatentTests" / "Fixtures" / "clip-ranking"
out.mkdir(parents=True, exist_ok=True)

config = CLIPConfig(
    text_config=dict(vocab_size=49408, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                     num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                     eos_token_id=49407, bos_token_id=49406, pad_token_id=1),
    vision_config=dict(hidden_size=24, intermediate_size=48, num_hidden_layers=2, num_attention_heads=3,
                       image_size=32, patch_size=8, hidden_act="quick_gelu"),
    projection_dim=12,
)
model = CLIPModel(config).eval()
with torch.no_grad():  # random init leaves some parameters at 0/1; perturb everything for a stronger test
    for name, p in model.named_parameters():
        if name != "logit_scale":
            p.add_(torch.randn_like(p) * 0.05)
# Stored in fp16 (halves the fixture and exercises F16 loading); the reference runs on the rounded weights.
model = model.half()
model.save_pretrained(out, safe_serialization=True)
model = model.float()

# The real tokenizer, from open_clip's BPE file (as Tests/Reference/make_tokenizer_fixtures.py builds it).
tokenizer_dir = root / "NetworksTests" / "Fixtures" / "tokenizer-vocab"
tokenizer = CLIPTokenizer(str(tokenizer_dir / "vocab.json"), str(tokenizer_dir / "merges.txt"))
prompt = "a red sports car, parked on a street"
ids = tokenizer(prompt, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids

g = torch.Generator().manual_seed(1)
images = torch.rand(4, 3, 48, 48, generator=g)
mask = torch.zeros(48, 48)
mask[10:38, 6:30] = 1.0
mean = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
std = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
with torch.no_grad():
    masked = images * mask
    size = config.vision_config.image_size
    resized = F.interpolate(masked, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
    pixel_values = (resized - mean) / std
    image_embeds = model.get_image_features(pixel_values=pixel_values)
    image_embeds = image_embeds.pooler_output if hasattr(image_embeds, "pooler_output") else image_embeds
    text_embeds = model.get_text_features(input_ids=ids)
    text_embeds = text_embeds.pooler_output if hasattr(text_embeds, "pooler_output") else text_embeds
    distances = 1 - F.cosine_similarity(image_embeds, text_embeds, dim=-1)
order = torch.argsort(distances)
save_file({
    "images": images.contiguous(), "mask": mask.contiguous(), "input_ids": ids.float().contiguous(),
    "resized": resized.contiguous(), "image_embeds": image_embeds.contiguous(),
    "text_embeds": text_embeds.contiguous(), "distances": distances.contiguous(), "order": order.float().contiguous(),
}, str(out / "io.safetensors"))
(out / "prompt.txt").write_text(prompt)
print("distances", distances.tolist(), "order", order.tolist())
print(sorted(k for k in model.state_dict().keys())[:8])
