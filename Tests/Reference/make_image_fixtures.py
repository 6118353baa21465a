"""Image codec and resampling fixtures for Tests/BlendedLatentTests/Image*.swift.

Run from the repository root:
    /work/venv-ref/bin/python Tests/Reference/make_image_fixtures.py

Writes Tests/BlendedLatentTests/Fixtures/images/:
  - PNG files of every colour type and bit depth (written by the tiny encoder below, so 16-bit, palette,
    tRNS and Adam7-interlaced variants are exact), with their expected decoded samples in expected.json;
  - JPEG files (RGB, gray, CMYK, progressive) saved by Pillow, expected = Pillow's decode to RGB;
  - corrupt and unsupported files (truncated, bad CRC, garbage, empty, GIF);
  - resample.json: Pillow's float ("F") resize of a seeded random plane for each filter, with and without a box;
  - luminance of rgb8.png by Pillow's convert("L").
Deterministic: same bytes on every run (zlib level 9, fixed seeds).
"""
import json
import struct
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parents[1] / "BlendedLatentTests" / "Fixtures" / "images"
OUT.mkdir(parents=True, exist_ok=True)
W, H = 7, 5


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_row(values, bit_depth):
    """values: 1-D list of samples for one row (all channels interleaved)."""
    if bit_depth == 16:
        return b"".join(struct.pack(">H", int(v)) for v in values)
    if bit_depth == 8:
        return bytes(int(v) for v in values)
    per_byte = 8 // bit_depth
    out = bytearray()
    for i in range(0, len(values), per_byte):
        byte = 0
        group = list(values[i:i + per_byte]) + [0] * (per_byte - len(values[i:i + per_byte]))
        for v in group:
            byte = (byte << bit_depth) | int(v)
        out.append(byte)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(name, samples, color_type, bit_depth, plte=None, trns=None, interlace=False):
    """samples: array [H, W, C] of raw stored values (palette indices for colour type 3)."""
    h, w, _ = samples.shape
    raw = bytearray()
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            for y in range(y0, h, dy):
                row = samples[y, x0::dx].reshape(-1)
                if row.size:
                    raw += b"\x00" + pack_row(row, bit_depth)
    else:
        for y in range(h):
            raw += b"\x00" + pack_row(samples[y].reshape(-1), bit_depth)
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
    if plte is not None:
        data += chunk(b"PLTE", bytes(np.asarray(plte, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    data += chunk(b"IEND", b"")
    (OUT / name).write_bytes(data)
    return data


ys, xs = np.mgrid[0:H, 0:W]
r8 = (xs * 37 + ys * 11) % 256
g8 = (xs * 5 + ys * 53 + 100) % 256
b8 = (255 - xs * 29 - ys * 7) % 256
a8 = (xs * 40 + ys * 13) % 256
gray8 = (xs * 31 + ys * 47) % 256
r16 = (xs * 9001 + ys * 1234) % 65536
g16 = (xs * 333 + ys * 17001 + 500) % 65536
b16 = (65535 - xs * 7777 - ys * 3) % 65536
a16 = (xs * 10007 + ys * 2221) % 65536
gray16 = (xs * 8191 + ys * 12007) % 65536

expected = {}


def record(name, depth, rgb, alpha):
    expected[name] = {
        "width": W, "height": H, "depth": depth,
        "rgb": [int(v) for v in np.stack(rgb, -1).reshape(-1)],
        "alpha": None if alpha is None else [int(v) for v in np.asarray(alpha).reshape(-1)],
    }


rgb8_bytes = write_png("rgb8.png", np.stack([r8, g8, b8], -1), 2, 8)
record("rgb8.png", 8, [r8, g8, b8], None)
write_png("rgba8.png", np.stack([r8, g8, b8, a8], -1), 6, 8)
record("rgba8.png", 8, [r8, g8, b8], a8)
write_png("gray8.png", gray8[..., None], 0, 8)
record("gray8.png", 8, [gray8] * 3, None)
write_png("graya8.png", np.stack([gray8, a8], -1), 4, 8)
record("graya8.png", 8, [gray8] * 3, a8)
write_png("rgb16.png", np.stack([r16, g16, b16], -1), 2, 16)
record("rgb16.png", 16, [r16, g16, b16], None)
write_png("rgba16.png", np.stack([r16, g16, b16, a16], -1), 6, 16)
record("rgba16.png", 16, [r16, g16, b16], a16)
write_png("gray16.png", gray16[..., None], 0, 16)
record("gray16.png", 16, [gray16] * 3, None)
write_png("graya16.png", np.stack([gray16, a16], -1), 4, 16)
record("graya16.png", 16, [gray16] * 3, a16)
write_png("rgb8-interlaced.png", np.stack([r8, g8, b8], -1), 2, 8, interlace=True)
record("rgb8-interlaced.png", 8, [r8, g8, b8], None)
write_png("rgba16-interlaced.png", np.stack([r16, g16, b16, a16], -1), 6, 16, interlace=True)
record("rgba16-interlaced.png", 16, [r16, g16, b16], a16)

# 1-bit gray: expands to 0 / 255.
bits = (xs + ys) % 2
write_png("gray1.png", bits[..., None], 0, 1)
record("gray1.png", 8, [bits * 255] * 3, None)
# 4-bit gray with tRNS on value 3 → alpha 0 there, 255 elsewhere; samples scale by 17.
gray4 = (xs + 2 * ys) % 16
write_png("gray4-trns.png", gray4[..., None], 0, 4, trns=struct.pack(">H", 3))
record("gray4-trns.png", 8, [gray4 * 17] * 3, np.where(gray4 == 3, 0, 255))
# 4-bit palette of 16 colours with partial tRNS.
palette = np.array([[(i * 16) % 256, (255 - i * 13) % 256, (i * 71) % 256] for i in range(16)])
index = (xs * 3 + ys * 5) % 16
trns_values = np.array([(i * 17) % 256 for i in range(6)])  # entries 0…5; the rest are opaque
write_png("palette4-trns.png", index[..., None], 3, 4, plte=palette, trns=bytes(int(v) for v in trns_values))
alpha_palette = np.concatenate([trns_values, np.full(10, 255)])
record("palette4-trns.png", 8, [palette[index][..., c] for c in range(3)], alpha_palette[index])
# 8-bit RGB with a tRNS colour key: pixels equal to (r8, g8, b8) at (0, 0) become transparent.
key = (int(r8[0, 0]), int(g8[0, 0]), int(b8[0, 0]))
write_png("rgb8-trns.png", np.stack([r8, g8, b8], -1), 2, 8, trns=struct.pack(">HHH", *key))
match = (r8 == key[0]) & (g8 == key[1]) & (b8 == key[2])
record("rgb8-trns.png", 8, [r8, g8, b8], np.where(match, 0, 255))

# JPEG: a smooth 16×12 scene so the codecs agree to the bit; expectations from Pillow's decoder.
jy, jx = np.mgrid[0:12, 0:16]
smooth = np.stack([jx * 15, jy * 20, (jx + jy) * 8], -1).astype(np.uint8)
Image.fromarray(smooth, "RGB").save(OUT / "rgb.jpg", quality=90)
Image.fromarray(smooth, "RGB").save(OUT / "progressive.jpg", quality=85, progressive=True)
Image.fromarray(smooth[..., 0], "L").save(OUT / "gray.jpg", quality=90)
Image.fromarray(smooth, "RGB").convert("CMYK").save(OUT / "cmyk.jpg", quality=95)
for name in ["rgb.jpg", "progressive.jpg", "gray.jpg", "cmyk.jpg"]:
    decoded = np.asarray(Image.open(OUT / name).convert("RGB"))
    expected[name] = {"width": 16, "height": 12, "depth": 8,
                      "rgb": [int(v) for v in decoded.reshape(-1)], "alpha": None}

# Broken and unsupported files.
(OUT / "truncated.png").write_bytes(rgb8_bytes[: len(rgb8_bytes) // 2])
bad_crc = bytearray(rgb8_bytes)
idat = rgb8_bytes.index(b"IDAT")
bad_crc[idat + 6] ^= 0x55
(OUT / "bad-crc.png").write_bytes(bytes(bad_crc))
jpeg_bytes = (OUT / "rgb.jpg").read_bytes()
(OUT / "truncated.jpg").write_bytes(jpeg_bytes[: len(jpeg_bytes) * 2 // 3])
(OUT / "garbage.png").write_bytes(bytes(np.random.default_rng(7).integers(0, 256, 300, dtype=np.uint8)))
(OUT / "empty.png").write_bytes(b"")
gif = BytesIO()
Image.fromarray(smooth, "RGB").save(gif, format="GIF")
(OUT / "picture.gif").write_bytes(gif.getvalue())

# Luminance (PIL convert("L")) of rgb8.png.
expected["rgb8.png"]["luminance"] = [int(v) for v in np.asarray(Image.open(OUT / "rgb8.png").convert("L")).reshape(-1)]
(OUT / "expected.json").write_text(json.dumps(expected, separators=(",", ":")) + "\n")

# Resampling: Pillow float-mode resize of a seeded 13×17 plane.
plane = np.random.default_rng(2024).random((13, 17), dtype=np.float32)
source = Image.fromarray(plane)
assert source.mode == "F"
filters = {"box": Image.Resampling.BOX, "bilinear": Image.Resampling.BILINEAR,
           "bicubic": Image.Resampling.BICUBIC, "lanczos3": Image.Resampling.LANCZOS}
cases = []
for filter_name, pil_filter in filters.items():
    for (width, height, box) in [(7, 5, None), (30, 22, None), (9, 13, None), (6, 6, (3, 2, 14, 11)), (10, 12, (4, 1, 9, 7))]:
        resized = source.resize((width, height), pil_filter, box=box)
        cases.append({"filter": filter_name, "width": width, "height": height,
                      "box": None if box is None else list(box),
                      "output": [float(v) for v in np.asarray(resized, dtype=np.float32).reshape(-1)]})
(OUT / "resample.json").write_text(json.dumps({"height": 13, "width": 17, "input": [float(v) for v in plane.reshape(-1)],
                                               "cases": cases}) + "\n")
print("wrote", sorted(p.name for p in OUT.iterdir()))
