"""Writes the LoRA fixtures of the Networks tests: small random LoRA files for the tiny SD 1.x / 2.x folders and
the UNet and text-encoder outputs of those folders with the LoRAs fused.

Command (from the repository root):

    /work/.venv-ref/bin/python Tests/Reference/make_lora_fixtures.py Tests/NetworksTests/Fixtures/lora

and, for the memory check of `Documentation/Decisions/0016-lora-applied-on-read.md` (not committed; a full-size
folder from `make_full_size_models.py`):

    /work/.venv-ref/bin/python Tests/Reference/make_lora_fixtures.py --full-size /tmp/fullsize/sd15 /tmp/sd15-lora.safetensors

It reads `Tests/NetworksTests/Fixtures/{sd1-tiny,sd2-tiny}/model` and writes into the output folder:

* `sd1-kohya.safetensors`: kohya layout (`lora_unet_…`, `lora_te_…`, `.lora_down.weight`, `.lora_up.weight`,
  `.alpha`), float32, rank 4, alpha 2 on the UNet and 3 on the text encoder (alpha ≠ rank). It touches every
  attention projection (`attn1`/`attn2` `to_q`, `to_k`, `to_v`, `to_out.0`), the feed-forward projections, the
  1×1 `proj_in` convolutions, one 3×3 convolution (LoCon: down `[4, 32, 3, 3]`, up `[32, 4, 1, 1]`) and a time
  embedding projection; and every text-encoder `q_proj`, `k_proj`, `v_proj`, `out_proj`, `mlp.fc1`, `mlp.fc2`.
* `sd1-peft.safetensors`: diffusers / PEFT layout (`unet.….lora_A.weight`, `.lora_B.weight`,
  `text_encoder.…`), float32, rank 2, no alphas; attention projections and text-encoder `q_proj`/`v_proj`/`fc1`
  named as transformers 5 names them (`text_encoder.encoder.layers.…`, no `text_model.`; the kohya files keep it).
* `sd1-processor.safetensors`: diffusers' older attention-processor layout (`unet.….processor.to_q_lora.down.weight`,
  `to_out_lora` for `to_out.0`), rank 3, no alphas, UNet attention only.
* `sd2-kohya.safetensors`: kohya layout for `sd2-tiny` (linear `proj_in`, text width 24), float16, rank 4,
  alpha 8 (UNet) and 1 (text encoder).
* `io.safetensors` (float32): inputs `unet.sample` [2, 4, 8, 8], `sd1.encoder_hidden_states` [2, 77, 32],
  `sd2.encoder_hidden_states` [2, 77, 24], `unet.timestep` [1], `clip.input_ids` [2, 77] (ids as floats); and for
  each case below `<case>.unet` [2, 4, 8, 8] (UNet output at the timestep) and `<case>.text` (last hidden state):
    - `sd1-kohya`: sd1-kohya at scale 0.8
    - `sd1-peft`: sd1-peft at scale 1.3
    - `sd1-processor`: sd1-processor at scale 1
    - `sd1-two`: sd1-kohya at 0.7 and sd1-peft at -0.5 together
    - `sd2-kohya`: sd2-kohya at scale 0.9 (references from the float16-rounded base weights and factors)

How the references are made. The reference environment has diffusers 0.42 but not `peft`, which diffusers'
`load_lora_weights` / `fuse_lora` require. So the script uses diffusers for everything up to the fuse: it reads
each file with `StableDiffusionPipeline.lora_state_dict` (kohya → diffusers names and `network_alphas`), then the
conversions `load_lora_weights` applies (`convert_unet_state_dict_to_peft`; `convert_state_dict_to_diffusers` +
`convert_state_dict_to_peft` for the text encoder), and fuses as PEFT's `LoraLayer.merge` does:
`W += scale · alpha / r · (lora_B · lora_A)` (for the 3×3 convolution PEFT's `conv2d(lora_A.permute(1, 0, 2, 3),
lora_B).permute(1, 0, 2, 3)`, the same product). alpha is the component's single `network_alphas` value, or r
when there is none (diffusers' `get_peft_kwargs`). One alpha per component keeps diffusers' alpha patterns out of
the reference (its patterns for kohya attention modules are derived from converted key names). The fused UNet
and text encoder then run in diffusers / transformers in float32.
"""
import os
import sys

import torch
import torch.nn.functional as F
from diffusers import StableDiffusionPipeline, UNet2DConditionModel
from diffusers.utils.state_dict_utils import (
    convert_state_dict_to_diffusers,
    convert_state_dict_to_peft,
    convert_unet_state_dict_to_peft,
)
from safetensors.torch import save_file
from transformers import CLIPTextModel

torch.set_num_threads(1)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "NetworksTests", "Fixtures")


def load_base(name):
    root = os.path.join(FIXTURES, name, "model")
    variant = "fp16" if name == "sd2-tiny" else None
    unet = UNet2DConditionModel.from_pretrained(os.path.join(root, "unet"), variant=variant).float().eval()
    text = CLIPTextModel.from_pretrained(os.path.join(root, "text_encoder"), variant=variant).float().eval()
    return unet, text


def lora_targets(unet, text, kind):
    """(component, module path, module) for the modules a LoRA of `kind` touches."""
    targets = []
    for path, module in unet.named_modules():
        leaf = path.split(".")[-1]
        attention = ".attn1." in path or ".attn2." in path
        if kind in ("kohya", "processor") and attention and leaf in ("to_q", "to_k", "to_v", "0"):
            targets.append(("unet", path, module))
        elif kind == "peft" and attention and leaf in ("to_q", "to_k", "to_v"):
            targets.append(("unet", path, module))
        elif kind == "kohya" and (path.endswith("ff.net.0.proj") or path.endswith("ff.net.2") or leaf == "proj_in"):
            targets.append(("unet", path, module))
        elif kind == "kohya" and path in ("down_blocks.0.resnets.0.conv1", "mid_block.resnets.0.time_emb_proj"):
            targets.append(("unet", path, module))
    if kind != "processor":
        wanted = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2") if kind == "kohya" else ("q_proj", "v_proj", "fc1")
        for path, module in text.named_modules():
            if path.split(".")[-1] in wanted:
                # transformers 5 has no `text_model.` level; kohya files name it, as transformers 4 did.
                targets.append(("text_encoder", ("text_model." if kind == "kohya" else "") + path, module))
    return targets


def factors(module, rank, generator):
    weight = module.weight
    if weight.ndim == 4:
        down = torch.randn(rank, weight.shape[1], weight.shape[2], weight.shape[3], generator=generator) * 0.2
        up = torch.randn(weight.shape[0], rank, 1, 1, generator=generator) * 0.2
    else:
        down = torch.randn(rank, weight.shape[1], generator=generator) * 0.2
        up = torch.randn(weight.shape[0], rank, generator=generator) * 0.2
    return down, up


def make_lora(unet, text, kind, rank, alphas, dtype, seed):
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for component, path, module in lora_targets(unet, text, kind):
        down, up = factors(module, rank, generator)
        down, up = down.to(dtype), up.to(dtype)
        if kind == "kohya":
            prefix = ("lora_unet_" if component == "unet" else "lora_te_") + path.replace(".", "_")
            tensors[prefix + ".lora_down.weight"] = down
            tensors[prefix + ".lora_up.weight"] = up
            tensors[prefix + ".alpha"] = torch.tensor(alphas[component], dtype=dtype)
        elif kind == "peft":
            tensors[f"{component}.{path}.lora_A.weight"] = down
            tensors[f"{component}.{path}.lora_B.weight"] = up
        else:
            parent, leaf = path.rsplit(".", 1)
            if leaf == "0":
                parent, leaf = parent.rsplit(".", 1)[0], "to_out"
            tensors[f"unet.{parent}.processor.{leaf}_lora.down.weight"] = down
            tensors[f"unet.{parent}.processor.{leaf}_lora.up.weight"] = up
    return {k: v.contiguous() for k, v in tensors.items()}


def peft_state_dicts(path):
    """The file as `load_lora_weights` sees it: PEFT-named state dicts per component and one alpha per component."""
    state_dict, network_alphas = StableDiffusionPipeline.lora_state_dict(path)
    result = {}
    for component in ("unet", "text_encoder"):
        part = {k[len(component) + 1:]: v for k, v in state_dict.items() if k.startswith(component + ".")}
        if not part:
            continue
        if component == "unet":
            part = convert_unet_state_dict_to_peft(part)
        else:
            part = convert_state_dict_to_peft(convert_state_dict_to_diffusers(part))
        alphas = {v for k, v in (network_alphas or {}).items() if k.startswith(component + ".")}
        assert len(alphas) <= 1, f"{path}: several alphas for {component}: {alphas}"
        assert all(".lora_A." in k or ".lora_B." in k for k in part), f"{path}: unconverted keys {list(part)[:3]}"
        result[component] = (part, alphas.pop() if alphas else None)
    return result


@torch.no_grad()
def fuse(unet, text, path, scale):
    networks = {"unet": unet, "text_encoder": text}
    for component, (state_dict, alpha) in peft_state_dicts(path).items():
        modules = dict(networks[component].named_modules())
        for key in [k for k in state_dict if k.endswith(".lora_A.weight")]:
            name = key[: -len(".lora_A.weight")]
            if name not in modules:  # as `_load_lora_into_text_encoder` drops `text_model.`
                name = name.removeprefix("text_model.")
                key = name + ".lora_A.weight"
                state_dict = {k.removeprefix("text_model."): v for k, v in state_dict.items()}
            lora_a, lora_b = state_dict[key].float(), state_dict[name + ".lora_B.weight"].float()
            rank = lora_b.shape[1]
            scaling = scale * (alpha if alpha is not None else rank) / rank
            weight = modules[name].weight
            if weight.ndim == 4 and lora_a.shape[2:] != (1, 1):
                delta = F.conv2d(lora_a.permute(1, 0, 2, 3), lora_b).permute(1, 0, 2, 3)
            else:
                delta = (lora_b.flatten(1) @ lora_a.flatten(1)).reshape(weight.shape)
            weight += scaling * delta


@torch.no_grad()
def outputs(name, loras, io):
    unet, text = load_base(name)
    for path, scale in loras:
        fuse(unet, text, path, scale)
    family = name.split("-")[0]
    sample = unet(io["unet.sample"], io["unet.timestep"], encoder_hidden_states=io[f"{family}.encoder_hidden_states"]).sample
    hidden = text(io["clip.input_ids"].long()).last_hidden_state
    return sample, hidden


def make_full_size_lora(model, path, rank=16):
    """A kohya LoRA (float16, rank `rank`, alpha rank / 2) on every attention projection of the UNet and every
    self-attention projection of the text encoder of a full-size folder, from the weights' shapes alone."""
    from safetensors import safe_open

    generator = torch.Generator().manual_seed(5)
    tensors = {}
    for component, folder, prefix in (("unet", "unet", "lora_unet_"), ("text_encoder", "text_encoder", "lora_te_")):
        for name in sorted(os.listdir(os.path.join(model, folder))):
            if not name.endswith(".safetensors"):
                continue
            with safe_open(os.path.join(model, folder, name), "pt") as weights:
                for key in weights.keys():
                    module = key[: -len(".weight")]
                    wanted = (".attn1.", ".attn2.") if component == "unet" else ("self_attn.",)
                    if not key.endswith(".weight") or not any(part in key for part in wanted):
                        continue
                    if not module.split(".")[-1] in ("to_q", "to_k", "to_v", "0", "q_proj", "k_proj", "v_proj", "out_proj"):
                        continue
                    out_features, in_features = weights.get_slice(key).get_shape()
                    stem = prefix + module.replace(".", "_")
                    tensors[stem + ".lora_down.weight"] = (torch.randn(rank, in_features, generator=generator) * 0.01).half()
                    tensors[stem + ".lora_up.weight"] = (torch.randn(out_features, rank, generator=generator) * 0.01).half()
                    tensors[stem + ".alpha"] = torch.tensor(rank / 2, dtype=torch.float16)
    save_file(tensors, path)
    print(f"{path}: {len(tensors) // 3} modules, rank {rank}")


def main(out):
    os.makedirs(out, exist_ok=True)
    files = {}
    specs = [
        ("sd1-kohya", "sd1-tiny", "kohya", 4, {"unet": 2.0, "text_encoder": 3.0}, torch.float32, 1),
        ("sd1-peft", "sd1-tiny", "peft", 2, None, torch.float32, 2),
        ("sd1-processor", "sd1-tiny", "processor", 3, None, torch.float32, 3),
        ("sd2-kohya", "sd2-tiny", "kohya", 4, {"unet": 8.0, "text_encoder": 1.0}, torch.float16, 4),
    ]
    for file, model, kind, rank, alphas, dtype, seed in specs:
        unet, text = load_base(model)
        path = os.path.join(out, file + ".safetensors")
        save_file(make_lora(unet, text, kind, rank, alphas, dtype, seed), path)
        files[file] = path

    generator = torch.Generator().manual_seed(0)
    io = {
        "unet.sample": torch.randn(2, 4, 8, 8, generator=generator),
        "sd1.encoder_hidden_states": torch.randn(2, 77, 32, generator=generator),
        "sd2.encoder_hidden_states": torch.randn(2, 77, 24, generator=generator),
        "unet.timestep": torch.tensor([421.0]),
        "clip.input_ids": torch.randint(0, 1000, (2, 77), generator=generator).float(),
    }
    cases = {
        "sd1-kohya": ("sd1-tiny", [(files["sd1-kohya"], 0.8)]),
        "sd1-peft": ("sd1-tiny", [(files["sd1-peft"], 1.3)]),
        "sd1-processor": ("sd1-tiny", [(files["sd1-processor"], 1.0)]),
        "sd1-two": ("sd1-tiny", [(files["sd1-kohya"], 0.7), (files["sd1-peft"], -0.5)]),
        "sd2-kohya": ("sd2-tiny", [(files["sd2-kohya"], 0.9)]),
    }
    for case, (model, loras) in cases.items():
        io[f"{case}.unet"], io[f"{case}.text"] = outputs(model, loras, io)
    base1, base2 = outputs("sd1-tiny", [], io), outputs("sd2-tiny", [], io)
    for case in cases:
        base = base2 if case.startswith("sd2") else base1
        change = (io[f"{case}.unet"] - base[0]).abs().max().item(), (io[f"{case}.text"] - base[1]).abs().max().item()
        print(f"{case}: max change from the base model: unet {change[0]:.3g}, text {change[1]:.3g}")
    save_file({k: v.float().contiguous() for k, v in io.items()}, os.path.join(out, "io.safetensors"))


if __name__ == "__main__":
    if sys.argv[1] == "--full-size":
        make_full_size_lora(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1])
