"""Reference outputs for TensorCore's kernels, computed with PyTorch (and PIL for the mask resize).

Run from the package root with the pinned reference environment (Tests/Reference/requirements.txt):

    /work/venv-ref/bin/python Tests/Reference/make_kernel_fixtures.py

Writes Tests/TensorCoreTests/Fixtures/kernels/<group>.json. Each file maps a case name to
{"inputs": {name: tensor}, "parameters": {...}, "expected": tensor} where a tensor is
{"shape": [...], "data": [...]} (row-major float32 values). Inputs are float32; the expected outputs are
computed in float64 from those float32 inputs (the exact answer up to one final rounding), except where the
operation is PIL's or exact (resize, pools, dilation, permutes).
"""

import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

torch.set_num_threads(1)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "TensorCoreTests", "Fixtures", "kernels")
generator = torch.Generator().manual_seed(20260425)


def rand(*shape, scale=1.0):
    return (torch.randn(*shape, generator=generator, dtype=torch.float32) * scale).to(torch.float32)


def encode(t):
    t = torch.as_tensor(t).detach().to(torch.float32).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def case(inputs, expected, **parameters):
    return {"inputs": {k: encode(v) for k, v in inputs.items()}, "parameters": parameters, "expected": encode(expected)}


def d(t):
    return t.to(torch.float64)


def write(name, cases):
    os.makedirs(ROOT, exist_ok=True)
    with open(os.path.join(ROOT, name + ".json"), "w") as f:
        json.dump(cases, f, separators=(",", ":"))


def matmul_cases():
    cases = {}
    for ta in (False, True):
        for tb in (False, True):
            for label, batch in (("2d", ()), ("batched", (2, 3))):
                m, k, n = 5, 7, 6
                a = rand(*batch, *((k, m) if ta else (m, k)))
                b = rand(*batch, *((n, k) if tb else (k, n)))
                aa = d(a).transpose(-1, -2) if ta else d(a)
                bb = d(b).transpose(-1, -2) if tb else d(b)
                cases[f"{label}-ta{int(ta)}-tb{int(tb)}"] = case({"a": a, "b": b}, aa @ bb, transposeA=ta, transposeB=tb)
    a = rand(2, 4, 9)
    b = rand(9, 3)
    cases["shared-b"] = case({"a": a, "b": b}, d(a) @ d(b), transposeA=False, transposeB=False)
    x = rand(2, 3, 13)
    w = rand(11, 13)
    bias = rand(11)
    lin = {
        "bias": case({"x": x, "weight": w, "bias": bias}, F.linear(d(x), d(w), d(bias))),
        "no-bias": case({"x": x, "weight": w}, F.linear(d(x), d(w))),
        "rank2": case({"x": x[0], "weight": w, "bias": bias}, F.linear(d(x[0]), d(w), d(bias))),
    }
    write("matmul", cases)
    write("linear", lin)


def conv_cases():
    specs = [
        # name, N, C, H, W, O, k, stride, padding, bias
        ("1x1-s1-bias-b2", 2, 3, 5, 6, 7, 1, 1, 0, True),
        ("1x1-s1-nobias", 1, 13, 4, 3, 5, 1, 1, 0, False),
        ("1x1-spatial1x1", 2, 5, 1, 1, 3, 1, 1, 0, True),
        ("1x1-s2", 1, 6, 5, 7, 4, 1, 2, 0, True),
        ("3x3-s1-p1-bias-b2", 2, 3, 7, 6, 5, 3, 1, 1, True),
        ("3x3-s1-p1-nobias-c13", 1, 13, 6, 5, 11, 3, 1, 1, False),
        ("3x3-s1-p0-bias", 1, 4, 6, 7, 3, 3, 1, 0, True),
        ("3x3-s2-p1-nobias", 1, 9, 8, 8, 11, 3, 2, 1, False),
        ("3x3-s2-p1-odd-b2", 2, 5, 9, 7, 6, 3, 2, 1, True),
        ("3x3-s2-p0-bias", 1, 3, 9, 9, 4, 3, 2, 0, True),
        ("3x3-spatial1x1-p1", 2, 5, 1, 1, 3, 3, 1, 1, True),
    ]
    cases = {}
    for name, n, c, h, w, o, k, s, p, has_bias in specs:
        x = rand(n, c, h, w)
        weight = rand(o, c, k, k, scale=0.3)
        bias = rand(o) if has_bias else None
        inputs = {"x": x, "weight": weight}
        if has_bias:
            inputs["bias"] = bias
        expected = F.conv2d(d(x), d(weight), d(bias) if has_bias else None, stride=s, padding=p)
        cases[name] = case(inputs, expected, stride=s, padding=p)
    write("conv2d", cases)


def norm_cases():
    cases = {}
    for name, shape, groups, affine, silu, eps in [
        ("g3-affine", (2, 6, 5, 7), 3, True, False, 1e-5),
        ("g3-affine-silu", (2, 6, 5, 7), 3, True, True, 1e-5),
        ("g32-plain", (1, 32, 4, 4), 32, False, False, 1e-6),
        ("g2-rank3-silu", (2, 4, 9), 2, True, True, 1e-6),
        ("g4-spatial1x1", (3, 8, 1, 1), 4, True, False, 1e-5),
        ("offset-large", (1, 4, 3, 3), 2, True, False, 1e-5),
    ]:
        x = rand(*shape)
        if name == "offset-large":
            x = x + 1000.0
        weight, bias = rand(shape[1]), rand(shape[1])
        y = F.group_norm(d(x), groups, d(weight) if affine else None, d(bias) if affine else None, eps)
        if silu:
            y = F.silu(y)
        inputs = {"x": x} | ({"weight": weight, "bias": bias} if affine else {})
        cases[name] = case(inputs, y, groups=groups, epsilon=eps, fusedSiLU=silu)
    write("groupnorm", cases)
    ln = {}
    for name, shape, affine in [("affine", (2, 3, 10), True), ("plain", (4, 7), False), ("wide", (2, 1, 320), True)]:
        x = rand(*shape) * 3 + 2
        weight, bias = rand(shape[-1]), rand(shape[-1])
        y = F.layer_norm(d(x), (shape[-1],), d(weight) if affine else None, d(bias) if affine else None, 1e-5)
        ln[name] = case({"x": x} | ({"weight": weight, "bias": bias} if affine else {}), y, epsilon=1e-5)
    write("layernorm", ln)


def activation_cases():
    x = torch.cat([torch.linspace(-12, 12, 97), rand(40, scale=3), torch.tensor([0.0, -100.0, 100.0, 1e-4, -1e-4])])
    x = x.to(torch.float32)
    cases = {
        "silu": case({"x": x}, F.silu(d(x))),
        "gelu": case({"x": x}, F.gelu(d(x))),
        "geluTanh": case({"x": x}, F.gelu(d(x), approximate="tanh")),
        "quickGELU": case({"x": x}, d(x) * torch.sigmoid(1.702 * d(x))),
    }
    g = rand(2, 3, 12, scale=2)
    h, gate = d(g).chunk(2, dim=-1)
    cases["geglu"] = case({"x": g}, h * F.gelu(gate))
    write("activations", cases)
    sm = {}
    a = rand(3, 17)
    sm["plain"] = case({"x": a}, torch.softmax(d(a), -1))
    big = rand(2, 4, 9) * 1000 + 50000
    sm["large-values"] = case({"x": big}, torch.softmax(d(big), -1))
    neg = rand(5, 33) * 30 - 1e4
    sm["large-negative"] = case({"x": neg}, torch.softmax(d(neg), -1))
    write("softmax", sm)


def concat_case(a, b, axis):
    return case({"a": a, "b": b}, torch.cat([a, b], dim=axis), axis=axis)


def shape_cases():
    x = rand(2, 3, 4, 5)
    cases = {
        "upsample2x": case({"x": x}, F.interpolate(x, scale_factor=2, mode="nearest")),
        "upsample2x-rank3": case({"x": x[0]}, F.interpolate(x[0:1], scale_factor=2, mode="nearest")[0]),
        "concat-axis1": concat_case(x, rand(2, 2, 4, 5), 1),
        "concat-axis3": concat_case(x, rand(2, 3, 4, 2), 3),
        "permute-0213": case({"x": x}, x.permute(0, 2, 1, 3), permutation=[0, 2, 1, 3]),
        "permute-3102": case({"x": x}, x.permute(3, 1, 0, 2), permutation=[3, 1, 0, 2]),
        "transpose-last-two": case({"x": x}, x.transpose(-1, -2), permutation=[0, 1, 3, 2]),
    }
    for name, sa, sb in [
        ("same", (2, 3, 4), (2, 3, 4)),
        ("channel-bias", (2, 3, 4, 5), (3, 1, 1)),
        ("outer", (2, 1, 4, 1), (1, 3, 1, 5)),
        ("rank-mismatch", (2, 3, 4, 5), (5,)),
        ("scalar-like", (3, 4), (1,)),
    ]:
        a, b = rand(*sa), rand(*sb)
        cases[f"add-{name}"] = case({"a": a, "b": b}, d(a) + d(b))
        cases[f"mul-{name}"] = case({"a": a, "b": b}, d(a) * d(b))
    write("shape", cases)


def attention_reference(q, k, v, heads, causal):
    b, tq, width = q.shape
    tk = k.shape[1]
    dh = width // heads
    qh = d(q).reshape(b, tq, heads, dh).transpose(1, 2)
    kh = d(k).reshape(b, tk, heads, dh).transpose(1, 2)
    vh = d(v).reshape(b, tk, heads, dh).transpose(1, 2)
    out = F.scaled_dot_product_attention(qh, kh, vh, is_causal=causal)
    return out.transpose(1, 2).reshape(b, tq, width)


def attention_cases():
    cases = {}
    for name, b, tq, tk, heads, dh, causal in [
        ("self-b2-h2", 2, 7, 7, 2, 4, False),
        ("causal-b2-h2", 2, 7, 7, 2, 4, True),
        ("cross-tq5-tk9", 1, 5, 9, 3, 5, False),
        ("cross-tiled-tq300-tk77", 1, 300, 77, 2, 8, False),
        ("causal-tiled-t260", 1, 260, 260, 1, 4, True),
        ("single-query", 2, 1, 6, 1, 3, False),
    ]:
        q, k, v = rand(b, tq, heads * dh), rand(b, tk, heads * dh), rand(b, tk, heads * dh)
        cases[name] = case({"query": q, "key": k, "value": v}, attention_reference(q, k, v, heads, causal),
                           heads=heads, causal=causal)
    write("attention", cases)


def mask_cases():
    rng = np.random.default_rng(7)
    cases = {}
    binary = (rng.random((37, 23)) > 0.6).astype(np.float32)
    values = rng.random((19, 26)).astype(np.float32)
    for source_name, source in (("binary", binary), ("values", values)):
        for (h, w) in [(64, 64), (10, 7), (50, 31), (13, 29), (37, 23), (8, 8), (111, 5)]:
            image = Image.fromarray(source, mode="F")
            resized = np.asarray(image.resize((w, h), Image.NEAREST), dtype=np.float32)
            cases[f"resize-{source_name}-{h}x{w}"] = case({"x": torch.from_numpy(source)[None, None]},
                                                          torch.from_numpy(resized.copy())[None, None],
                                                          height=h, width=w)
    binary_l = Image.fromarray((binary * 255).astype(np.uint8), mode="L")
    for (h, w) in [(64, 64), (12, 9)]:
        resized = np.asarray(binary_l.resize((w, h), Image.NEAREST), dtype=np.float32) / 255.0
        cases[f"resize-binaryL-{h}x{w}"] = case({"x": torch.from_numpy(binary)[None, None]},
                                                torch.from_numpy(resized.copy())[None, None], height=h, width=w)
    pools = {}
    for name, shape, factor in [("f8", (1, 1, 16, 24), 8), ("f3-b2", (2, 1, 6, 9), 3), ("f1", (1, 2, 3, 3), 1)]:
        x = rand(*shape)
        pools[name] = case({"x": x}, F.max_pool2d(x, factor, factor), factor=factor)
    dil = {}
    mask = torch.from_numpy((rng.random((1, 1, 21, 17)) > 0.9).astype(np.float32))
    for k in (1, 3, 5, 7, 31):
        dil[f"k{k}"] = case({"x": mask}, F.max_pool2d(mask, k, stride=1, padding=k // 2), kernelSize=k)
    write("resize", cases)
    write("maxpool", pools)
    write("dilation", dil)


if __name__ == "__main__":
    matmul_cases()
    conv_cases()
    norm_cases()
    activation_cases()
    shape_cases()
    attention_cases()
    mask_cases()
    total = sum(os.path.getsize(os.path.join(ROOT, f)) for f in os.listdir(ROOT))
    print(f"wrote {len(os.listdir(ROOT))} files, {total / 1024:.0f} KiB to {ROOT}")
