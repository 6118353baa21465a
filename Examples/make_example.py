"""Draws the bundled example: a 256×256 lakeside landscape and a mask for the README's first command.

Run from the repository root (needs numpy and Pillow, e.g. the reference env):
    /work/venv-ref/bin/python Examples/make_example.py

Writes Examples/lake.png (RGB) and Examples/lake-mask.png (gray: white = the meadow patch on the far shore
where the README's prompt puts a cabin). Deterministic: fixed seeds, no external data.
"""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 256
HERE = Path(__file__).resolve().parent
rng = np.random.default_rng(20230607)
ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)


def fractal_noise(octaves=5, base=4, persistence=0.55):
    """Sum of bicubically upsampled random grids in [0, 1]."""
    total = np.zeros((SIZE, SIZE))
    amplitude, weight = 1.0, 0.0
    for octave in range(octaves):
        cells = base * 2 ** octave
        grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
        layer = np.asarray(Image.fromarray(grid).resize((SIZE, SIZE), Image.Resampling.BICUBIC), dtype=np.float64)
        total += amplitude * layer
        weight += amplitude
        amplitude *= persistence
    return total / weight


def ridge(base_height, roughness, seed_shift):
    """A 1-D mountain profile: row index of the ridge for every column."""
    profile = np.zeros(SIZE)
    for octave, amplitude in enumerate([38, 18, 8, 3]):
        points = rng.random(4 * 2 ** octave + 2)
        profile += amplitude * roughness * np.interp(np.linspace(0, len(points) - 1, SIZE), np.arange(len(points)), points)
    return base_height - profile + seed_shift


def lerp(a, b, t):
    t = np.clip(t, 0, 1)[..., None]
    return np.asarray(a) * (1 - t) + np.asarray(b) * t


horizon = 150
image = np.zeros((SIZE, SIZE, 3))

# Sky: deep blue overhead to warm haze at the horizon, a soft sun and a few clouds.
sky_t = ys / horizon
image[:] = lerp([62, 110, 178], [236, 214, 186], sky_t ** 1.6)
sun_x, sun_y = 196, 58
sun_distance = np.hypot(xs - sun_x, ys - sun_y)
image += (np.exp(-(sun_distance / 38) ** 2) * 70)[..., None] * np.array([1.0, 0.85, 0.55])
image = lerp(image, [255, 247, 225], 9.5 - sun_distance)
clouds = fractal_noise(octaves=5, base=3)
cloud_mask = np.clip((clouds - 0.56) * 5, 0, 1) * np.clip((horizon - 20 - ys) / 60, 0, 1)
image = lerp(image, np.full((SIZE, SIZE, 3), 246.0), cloud_mask * 0.85)

# Mountains: two ranges, the far one hazier.
for base, roughness, colour, haze in [(128, 1.0, [120, 132, 160], 0.45), (142, 0.7, [78, 98, 92], 0.2)]:
    top = ridge(base, roughness, 0)
    rock = fractal_noise(octaves=4, base=8)
    inside = ys >= top[None, :]
    shade = np.asarray(colour) * (0.85 + 0.3 * rock[..., None])
    shade = lerp(shade, [236, 214, 186], np.full((SIZE, SIZE), haze))
    image[inside & (ys < horizon)] = shade[inside & (ys < horizon)]

# Far shore: a meadow strip with trees.
shore_top = horizon - 6 + 3 * np.sin(xs[0] / 23)
meadow_noise = fractal_noise(octaves=5, base=10)
meadow = lerp([92, 128, 58], [150, 170, 80], meadow_noise)
in_shore = (ys >= shore_top[None, :]) & (ys < horizon + 4)
image[in_shore] = meadow[in_shore]
canvas = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
draw = ImageDraw.Draw(canvas)
for x in list(range(6, 120, 9)) + list(range(196, 256, 8)):
    height = 10 + int(rng.integers(0, 10))
    base_y = int(shore_top[x]) + 4
    green = tuple(int(v) for v in np.array([34, 70, 40]) + rng.integers(-8, 12, 3))
    draw.polygon([(x - 5, base_y), (x + 5, base_y), (x, base_y - height)], fill=green)
image = np.asarray(canvas, dtype=np.float64)

# Lake: reflection of everything above the waterline, darkened, with ripples.
water_top = horizon + 4
lake_bottom = 206
lake_end = lake_bottom + 6
for y in range(water_top, lake_end):
    depth = min(1.0, (y - water_top) / (lake_bottom - water_top))
    mirror = int(np.clip(2 * water_top - y - 2, 0, SIZE - 1))
    ripple = np.roll(image[mirror], int(2 * np.sin(y * 0.9)), axis=0)
    water = lerp(ripple, [40, 78, 110], np.full(SIZE, 0.35 + 0.4 * depth))
    sparkle = (np.abs(xs[y] - sun_x) < 18 - 10 * depth) & (rng.random(SIZE) < 0.18)
    water[sparkle] = [250, 236, 200]
    image[y] = water

# Foreground: grassy bank with texture and a path of light.
grass_noise = fractal_noise(octaves=6, base=12)
grass = lerp([58, 96, 40], [128, 150, 62], grass_noise)
grass *= (0.8 + 0.25 * (ys / SIZE))[..., None]
bank = ys >= lake_bottom + 4 * np.sin(xs / 31)
image[bank] = grass[bank]
blades = np.zeros((SIZE, SIZE), dtype=bool)
blade_canvas = Image.new("L", (SIZE, SIZE), 0)
blade_draw = ImageDraw.Draw(blade_canvas)
for _ in range(500):
    x = float(rng.uniform(0, SIZE))
    y = float(rng.uniform(lake_bottom + 6, SIZE))
    blade_draw.line([(x, y), (x + rng.uniform(-3, 3), y - rng.uniform(4, 9))], fill=255)
blades = np.asarray(blade_canvas) > 0
image[blades] = image[blades] * 0.7 + np.array([40, 70, 20]) * 0.3

photo = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
photo.save(HERE / "lake.png", optimize=True)

# Mask: a rounded patch on the far shore, left of the sun's reflection.
mask = Image.new("L", (SIZE, SIZE), 0)
ImageDraw.Draw(mask).rounded_rectangle([122, 116, 182, 158], radius=10, fill=255)
mask.save(HERE / "lake-mask.png", optimize=True)
print("wrote", HERE / "lake.png", HERE / "lake-mask.png")
