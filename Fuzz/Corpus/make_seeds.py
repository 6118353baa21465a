"""Writes the seeds of the single-file and server-requests fuzz targets (Fuzz/Corpus/single-file,
Fuzz/Corpus/server-requests). Standard library only; run from the repository root: python3 Fuzz/Corpus/make_seeds.py
"""
import base64
import json
import struct
import zlib
from pathlib import Path

root = Path(__file__).resolve().parent


def header_seeds():
    out = root / "single-file"
    # Small headers only: the tiny SD 2.x checkpoint's whole header (99 KB, 775 tensors) makes every mutation a full
    # load of the tiny networks and the target ~15× slower (about 100 executions a second).

    def header(entries, metadata=None):
        offset, result = 0, {}
        for key, shape in entries:
            count = 1
            for extent in shape:
                count *= extent
            result[key] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + 2 * count]}
            offset += 2 * count
        if metadata:
            result["__metadata__"] = metadata
        return json.dumps(result, separators=(",", ":")).encode()

    unet = "model.diffusion_model."
    conv_in = (unet + "input_blocks.0.0.weight", [16, 4, 3, 3])
    attention = (unet + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight", [16, 24])
    seeds = {
        "sd1-transformer": [conv_in, attention, ("cond_stage_model.transformer.text_model.final_layer_norm.weight", [24])],
        "sd2-openclip": [
            conv_in, attention, ("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight", [72, 24]),
            ("cond_stage_model.model.transformer.resblocks.3.ln_1.weight", [24]), ("betas", [4]),
        ],
        "sdxl-embedders": [conv_in, (attention[0], [16, 2048]), ("conditioner.embedders.1.model.logit_scale", [])],
        "inpainting-9": [(conv_in[0], [16, 9, 3, 3]), (attention[0], [16, 1024])],
        "width-768": [conv_in, (attention[0], [16, 768]), ("model_ema.decay", [])],
    }
    for name, entries in seeds.items():
        (out / f"{name}.json").write_bytes(header(entries))
    (out / "metadata-v.json").write_bytes(
        header([conv_in, (attention[0], [16, 1024])], {"modelspec.architecture": "stable-diffusion-v2-768-v"}))


def png(width, height, rgba):
    """A small 8-bit RGB or RGBA PNG with a diagonal pattern."""
    channels = 4 if rgba else 3
    rows = b""
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            value = 255 if x >= y else 0
            row += bytes([value, 128, 255 - value] + ([0 if x < width // 2 else 255] if rgba else []))
        rows += bytes(row)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6 if rgba else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def request_seeds():
    out = root / "server-requests"
    image = base64.b64encode(png(8, 8, False)).decode()
    transparent = base64.b64encode(png(8, 8, True)).decode()
    # First byte: route (0 img2img, 1 txt2img, 2 native, 3 OpenAI) | 4 for multipart.
    def write(name, selector, body):
        (out / name).write_bytes(bytes([selector]) + body)

    img2img = {
        "init_images": [image], "mask": "data:image/png;base64," + image, "prompt": "a hat", "steps": 4,
        "width": 64, "height": 64, "denoising_strength": 0.6, "sampler_name": "Euler a", "seed": 3,
        "batch_size": 2, "inpaint_full_res": True, "inpaint_full_res_padding": 4, "mask_blur": 2,
        "override_settings": {"sd_model_checkpoint": "model.safetensors", "CLIP_stop_at_last_layers": 2},
    }
    write("a1111-img2img.json", 0, json.dumps(img2img).encode())
    write("a1111-txt2img.json", 1, json.dumps({"prompt": "a cat", "width": 64, "height": 64, "steps": 2,
                                              "cfg_scale": 5, "enable_hr": True, "n_iter": 2}).encode())
    native = {"image": image, "mask": transparent, "prompt": "a hat", "steps": 3, "guidance": 5, "strength": 0.8,
              "seed": 1, "batch": 2, "scheduler": "ddim", "eta": 0.5, "background": "paste", "feather": 2,
              "crop_to_mask": 4, "working_size": "native"}
    write("native.json", 2, json.dumps(native).encode())
    write("native-alpha.json", 2, json.dumps({"image": transparent, "mask": "alpha", "prompt": "x"}).encode())

    def multipart(fields, files):
        body = b""
        for name, value in fields.items():
            body += (f"--bldfuzz\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
        for name, data in files.items():
            body += (f"--bldfuzz\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.png\"\r\n"
                     "Content-Type: image/png\r\n\r\n").encode() + data + b"\r\n"
        return body + b"--bldfuzz--\r\n"

    write("openai.multipart", 3 | 4, multipart({"prompt": "a hat", "n": "2", "size": "64x64",
                                                "response_format": "b64_json"},
                                               {"image": png(8, 8, False), "mask": png(8, 8, True)}))
    write("native.multipart", 2 | 4, multipart({"prompt": "a hat", "steps": "2", "mask": "alpha"},
                                               {"image": png(8, 8, True)}))
    write("a1111-img2img.multipart", 0 | 4, multipart({"prompt": "p", "width": "16", "height": "16"},
                                                      {"mask": png(8, 8, False)}))


header_seeds()
request_seeds()
