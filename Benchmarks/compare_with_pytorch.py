"""Runs bld-bench cases and the same shapes in PyTorch, alternating, and prints Swift/PyTorch ratios.

Usage (a Python environment with Tests/Reference/requirements.txt installed, release build of bld-bench):
    swift build -c release --product bld-bench
    python Benchmarks/compare_with_pytorch.py --bench .build/release/bld-bench \
        [--model MODEL_DIR] [--threads 2] [--repeat 3] [--rounds 2] [--filter SUBSTRING]

Kernel cases need no model; model cases (text-encoder, unet-*, vae-*, edit-512) need --model, a diffusers
folder (e.g. written by Tests/Reference/make_full_size_models.py); with an SDXL folder (--models sdxl) the cases are
text-encoder-xl, unet-xl-b2-128, vae-decode-1024 and, when named, edit-1024. `edit-512` (minutes per side) runs only when
the filter names it: the whole Swift edit against the repository's Python reference loop
(Tests/Reference/blended_latent_reference.py) on the same folder, image, mask, prompt and settings. Each round
runs every case once in Swift and once in PyTorch, in alternating order, so both see the same machine state.
Prints the machine line of bld-bench (CPU model, caches, measured FMA peak) and PyTorch's build, one JSON
object per case with both medians and the ratio, then a table.

Fine-tune cases (finetune-256-paper, finetune-512-paper; only with a --filter selecting them, e.g. --filter finetune)
compare one paper-mode decoder fine-tuning iteration: bld-bench's `iteration_s` (one run, --repeat 1) against
Tests/Reference/time_decoder_finetune.py (torch autograd, its last of two iterations), each in its own process.
"""
import argparse
import os
import json
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

KERNEL_CASES = [
    "sgemm-2048", "gemm-320x4096x2880", "gemm-4096x320x320-tB", "gemm-4096x4096x40-tB", "gemm-4096x40x4096",
    "gemm-640x1024x5760", "winograd-2x320x64x64", "winograd-2x640x32x32", "winograd-2x1280x16x16",
    "winograd-streaming-2x1280x16x16", "winograd-streaming-2x640x32x32",
    "winograd-1x128x512x512", "winograd-1x512x64x64", "winograd-1x512x128x128", "winograd-1x512x256x256",
    "winograd-1x256x256x256", "winograd-weight-gradient-1x128x512x512", "winograd-weight-gradient-1x512x64x64",
    "winograd-weight-gradient-1x512x128x128", "winograd-weight-gradient-1x256x256x256",
    "winograd-backward-1x128x512x512", "winograd-backward-1x512x64x64", "winograd-backward-1x512x128x128",
    "winograd-backward-1x256x256x256", "upsampler-1x512x64x64", "upsampler-1x512x128x128", "upsampler-1x256x256x256",
    "conv3x3-64x64x320", "conv3x3-32x32x640", "conv3x3-16x16x1280", "conv3x3-512x512x128",
    "attention-4096x8x40-b2", "attention-training-4096x1x512", "groupnorm-64x64x320",
]
FINETUNE_CASES = ["finetune-256-paper", "finetune-512-paper"]
FINETUNE_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Reference",
                               "time_decoder_finetune.py")
MODEL_CASES = [
    "text-encoder", "unet-b2-32", "unet-b2-64", "vae-encode-256", "vae-encode-512", "vae-decode-256", "vae-decode-512",
]
# With an SDXL folder (text_encoder_2/): these instead.
XL_MODEL_CASES = ["text-encoder-xl", "unet-xl-b2-128", "vae-decode-1024"]
# Cases that run only when the filter names them (minutes per side).
EXPLICIT_CASES = ["edit-512", "edit-1024"]


def timed(fn, repeat, warm_up=True):
    if warm_up:  # as bld-bench: one untimed run, except for whole edits
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class TorchCases:
    def __init__(self, model_dir):
        self.model_dir = model_dir
        self.cache = {}
        g = torch.Generator().manual_seed(0)
        self.randn = lambda *shape: torch.randn(*shape, generator=g)

    def variant(self, subfolder):
        """'fp16' when the folder holds only `*.fp16.safetensors` weights (as the full-size fixture script
        writes them), else None."""
        import os
        files = os.listdir(os.path.join(self.model_dir, subfolder))
        plain = any(f.endswith(".safetensors") and ".fp16." not in f for f in files)
        return "fp16" if not plain and any(".fp16." in f for f in files) else None

    def component(self, name):
        if name not in self.cache:
            if self.model_dir is None:
                raise SystemExit(f"case needs --model: {name}")
            if name == "unet":
                from diffusers import UNet2DConditionModel
                self.cache[name] = UNet2DConditionModel.from_pretrained(
                    self.model_dir, subfolder="unet", variant=self.variant("unet")).eval()
            elif name == "vae":
                from diffusers import AutoencoderKL
                self.cache[name] = AutoencoderKL.from_pretrained(
                    self.model_dir, subfolder="vae", variant=self.variant("vae")).eval()
            elif name == "text":
                from transformers import CLIPTextModel
                self.cache[name] = CLIPTextModel.from_pretrained(
                    self.model_dir, subfolder="text_encoder", variant=self.variant("text_encoder")).eval()
            elif name == "text2":
                from transformers import CLIPTextModelWithProjection
                self.cache[name] = CLIPTextModelWithProjection.from_pretrained(
                    self.model_dir, subfolder="text_encoder_2", variant=self.variant("text_encoder_2")).eval()
            self.cache[name] = self.cache[name].float()
        return self.cache[name]

    def make(self, case):
        """Returns a zero-argument function running the case once."""
        if case == "sgemm-2048":
            a, b = self.randn(2048, 2048), self.randn(2048, 2048)
            return lambda: torch.mm(a, b)
        if case.startswith("gemm-"):
            m, n, k = (int(v) for v in case.split("-")[1].split("x"))
            a = self.randn(m, k)
            if case.endswith("-tB"):
                b = self.randn(n, k)
                return lambda: torch.mm(a, b.t())
            b = self.randn(k, n)
            return lambda: torch.mm(a, b)
        if case.startswith("winograd-weight-gradient-"):
            batch, c, h, w = (int(v) for v in case.split("-")[3].split("x"))
            x, dy = self.randn(batch, c, h, w), self.randn(batch, c, h, w)
            return lambda: (torch.nn.grad.conv2d_weight(x, (c, c, 3, 3), dy, padding=1), dy.sum((0, 2, 3)))
        if case.startswith("winograd-backward-"):
            batch, c, h, w = (int(v) for v in case.split("-")[2].split("x"))
            x, dy, weight = self.randn(batch, c, h, w), self.randn(batch, c, h, w), self.randn(c, c, 3, 3) * 0.02
            return lambda: (torch.nn.grad.conv2d_weight(x, (c, c, 3, 3), dy, padding=1), dy.sum((0, 2, 3)),
                            torch.nn.grad.conv2d_input(x.shape, weight, dy, padding=1))
        if case.startswith("winograd-"):
            batch, c, h, w = (int(v) for v in case.split("-")[-1].split("x"))
            x, weight, bias = self.randn(batch, c, h, w), self.randn(c, c, 3, 3) * 0.02, self.randn(c)
            return lambda: F.conv2d(x, weight, bias, padding=1)
        if case.startswith("upsampler-"):
            batch, c, h, w = (int(v) for v in case.split("-")[1].split("x"))
            x, weight, bias = self.randn(batch, c, h, w), self.randn(c, c, 3, 3) * 0.02, self.randn(c)
            return lambda: F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, bias, padding=1)
        if case.startswith("conv3x3-"):
            h, w, c = (int(v) for v in case.split("-")[1].split("x"))
            x, weight, bias = self.randn(1, c, h, w), self.randn(c, c, 3, 3) * 0.02, self.randn(c)
            return lambda: F.conv2d(x, weight, bias, padding=1)
        if case == "attention-4096x8x40-b2":
            q, k, v = (self.randn(2, 8, 4096, 40) for _ in range(3))
            return lambda: F.scaled_dot_product_attention(q, k, v)
        if case == "attention-training-4096x1x512":
            # The VAE mid block's attention in a fine-tuning step: forward, then autograd's backward (outside the
            # inference mode the cases run in).
            with torch.inference_mode(False):
                q, k, v = (self.randn(1, 1, 4096, 512).requires_grad_() for _ in range(3))
                output_gradient = self.randn(1, 1, 4096, 512)

            def step():
                with torch.inference_mode(False), torch.enable_grad():
                    F.scaled_dot_product_attention(q, k, v).backward(output_gradient)
                q.grad = k.grad = v.grad = None
            return step
        if case == "groupnorm-64x64x320":
            x, weight, bias = self.randn(1, 320, 64, 64), self.randn(320), self.randn(320)
            return lambda: F.group_norm(x, 32, weight, bias, 1e-5)
        if case == "text-encoder":
            model = self.component("text")
            ids = torch.randint(0, model.config.vocab_size, (2, 77), generator=torch.Generator().manual_seed(0))
            return lambda: model(ids).last_hidden_state
        if case == "text-encoder-xl":
            first, second = self.component("text"), self.component("text2")
            ids = torch.randint(0, first.config.vocab_size, (2, 77), generator=torch.Generator().manual_seed(0))
            return lambda: (first(ids, output_hidden_states=True), second(ids, output_hidden_states=True))
        if case.startswith("unet-b2-") or case.startswith("unet-xl-b2-"):
            unet = self.component("unet")
            size = int(case.split("-")[-1])
            sample = self.randn(2, unet.config.in_channels, size, size)
            context = self.randn(2, 77, unet.config.cross_attention_dim)
            added = {}
            if unet.config.addition_embed_type == "text_time":
                pooled = unet.config.projection_class_embeddings_input_dim - 6 * unet.config.addition_time_embed_dim
                added = dict(added_cond_kwargs={"text_embeds": self.randn(2, pooled),
                                                "time_ids": torch.tensor([[1024.0, 1024, 0, 0, 1024, 1024]] * 2)})
            return lambda: unet(sample, 500, encoder_hidden_states=context, **added).sample
        if case.startswith("vae-encode-"):
            vae = self.component("vae")
            size = int(case.split("-")[-1])
            x = self.randn(1, 3, size, size).clamp(-1, 1)
            return lambda: vae.encode(x).latent_dist.mean
        if case.startswith("vae-decode-"):
            vae = self.component("vae")
            size = int(case.split("-")[-1])
            factor = 2 ** (len(vae.config.block_out_channels) - 1)
            z = self.randn(1, vae.config.latent_channels, size // factor, size // factor)
            return lambda: vae.decode(z).sample
        if case.startswith("edit-"):
            return self.edit(int(case.split("-")[1]))
        raise SystemExit(f"unknown case {case}")

    def edit(self, size):
        """The reference blended loop on the folder's own components, with bld-bench's edit-N inputs: the
        `(index * 37) % 255` image, a centred square mask of half the side, "a red hat", seed 0, the folder's
        scheduler (DDIM for SD 1.5 / 2.1), 50 steps, strength 0.75, guidance 7.5, batch 1."""
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Reference"))
        from blended_latent_reference import blended_latent_edit
        from diffusers import DDIMScheduler
        from transformers import CLIPTokenizer
        unet, vae, text = self.component("unet"), self.component("vae"), self.component("text")
        tokenizer = CLIPTokenizer.from_pretrained(self.model_dir, subfolder="tokenizer")
        scheduler = DDIMScheduler.from_pretrained(self.model_dir, subfolder="scheduler")
        image = (torch.arange(3 * size * size) * 37 % 255).float().reshape(3, size, size) / 255
        mask = torch.zeros(size, size)
        mask[size // 4:3 * size // 4, size // 4:3 * size // 4] = 1
        sdxl = None
        if os.path.isdir(os.path.join(self.model_dir, "text_encoder_2")):  # SDXL: diffusers' own conditioning
            from diffusers import StableDiffusionXLPipeline
            from transformers import CLIPTokenizer as Tokenizer
            pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=text, text_encoder_2=self.component("text2"),
                                             tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                             tokenizer_2=Tokenizer.from_pretrained(self.model_dir, subfolder="tokenizer_2"))

            def edit():
                with torch.no_grad():
                    embeds, negative, pooled, negative_pooled = pipe.encode_prompt(
                        "a red hat", device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=True)
                    time_ids = pipe._get_add_time_ids((size, size), (0, 0), (size, size), dtype=torch.float32,
                                                      text_encoder_projection_dim=pipe.text_encoder_2.config.projection_dim)
                    return blended_latent_edit(unet, vae, text, tokenizer, scheduler, image, mask, "a red hat",
                                               generator=torch.Generator().manual_seed(0),
                                               sdxl=dict(embeddings=torch.cat([negative, embeds]),
                                                         pooled=torch.cat([negative_pooled, pooled]), time_ids=time_ids))
            return edit
        return lambda: blended_latent_edit(unet, vae, text, tokenizer, scheduler, image, mask, "a red hat",
                                           generator=torch.Generator().manual_seed(0))


def machine_line(bench, threads):
    """bld-bench's machine line (CPU model, caches, GEMM plan, measured FMA peak) for this run's threads."""
    output = subprocess.run([bench, "--filter", "fma-peak", "--threads", str(threads)], check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output.splitlines()[0])


def swift_case(bench, case, model, threads, repeat):
    command = [bench, "--filter", case, "--repeat", str(repeat), "--threads", str(threads)]
    if model:
        command += ["--model", model]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("case") == case:
                return record
    raise SystemExit(f"bld-bench printed no result for {case}:\n{output}")


def compare_finetune(bench, case, threads, rounds):
    """One fine-tune iteration in Swift and in torch autograd, alternating, `rounds` times each."""
    size = case.split("-")[1]
    swift_runs, torch_runs, swift_record, torch_record = [], [], None, None
    for round_index in range(rounds):
        for side in (["swift", "torch"] if round_index % 2 == 0 else ["torch", "swift"]):
            if side == "swift":
                swift_record = swift_case(bench, case, None, threads, 1)
                swift_runs.append(swift_record["iteration_s"])
            else:
                output = subprocess.run([sys.executable, FINETUNE_SCRIPT, "--size", size, "--threads", str(threads)],
                                        check=True, capture_output=True, text=True).stdout
                torch_record = json.loads(output.strip().splitlines()[-1])
                torch_runs.append(torch_record["iteration_s"])
    swift_s, torch_s = statistics.median(swift_runs), statistics.median(torch_runs)
    return {"case": case, "swift_s": round(swift_s, 4), "pytorch_s": round(torch_s, 4),
            "ratio_swift_over_pytorch": round(swift_s / torch_s, 3),
            "swift_runs_s": [round(t, 4) for t in swift_runs], "pytorch_runs_s": [round(t, 4) for t in torch_runs],
            "swift_peak_rss_mb": swift_record.get("peak_rss_mb"), "pytorch_peak_rss_mb": torch_record["peak_rss_mb"],
            "threads": threads, "load_average": [round(v, 2) for v in os.getloadavg()]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bench", default=".build/release/bld-bench")
    parser.add_argument("--model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--filter", default="")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    xl = args.model is not None and os.path.isdir(os.path.join(args.model, "text_encoder_2"))
    cases = KERNEL_CASES + ((XL_MODEL_CASES if xl else MODEL_CASES) if args.model else [])
    cases = [c for c in cases if args.filter in c]
    cases += [c for c in EXPLICIT_CASES if args.model and args.filter and args.filter in c]
    machine = machine_line(args.bench, args.threads)
    machine["pytorch"] = torch.__version__
    machine["pytorch_blas"] = "mkl" if torch.backends.mkl.is_available() else "other"
    machine["pytorch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    print(json.dumps(machine), flush=True)
    torch_cases = TorchCases(args.model)
    results = []
    with torch.inference_mode():
        for case in cases:
            swift_times, torch_times, record = [], [], None
            fn = torch_cases.make(case)
            for round_index in range(args.rounds):
                order = ["swift", "torch"] if round_index % 2 == 0 else ["torch", "swift"]
                for side in order:
                    if side == "swift":
                        record = swift_case(args.bench, case, args.model, args.threads, args.repeat)
                        swift_times.append(record["median_s"])
                    else:
                        torch_times.append(timed(fn, args.repeat, warm_up=case not in EXPLICIT_CASES))
            swift_s, torch_s = statistics.median(swift_times), statistics.median(torch_times)
            result = {"case": case, "swift_s": round(swift_s, 4), "pytorch_s": round(torch_s, 4),
                      "ratio_swift_over_pytorch": round(swift_s / torch_s, 3),
                      "swift_fraction_of_fma_peak": record.get("fraction_of_fma_peak"),
                      "swift_fraction_of_accumulating_fma_peak": record.get("fraction_of_accumulating_fma_peak"),
                      "swift_runs_s": [round(t, 4) for t in swift_times],
                      "pytorch_runs_s": [round(t, 4) for t in torch_times],
                      "swift_peak_rss_mb": record.get("peak_rss_mb"), "threads": args.threads,
                      "load_average": [round(v, 2) for v in os.getloadavg()]}
            print(json.dumps(result), flush=True)
            results.append(result)
    for case in (c for c in FINETUNE_CASES if args.filter and args.filter in c):  # minutes each: only on request
        result = compare_finetune(args.bench, case, args.threads, args.rounds)
        print(json.dumps(result), flush=True)
        results.append(result)
    print(f"\n{machine['machine']}; {args.threads} threads; FMA peak {machine['fma_peak_gflops']:.0f} GFLOP/s "
          f"({machine.get('fma_accumulating_peak_gflops', 0):.0f} summing into the addend, as a GEMM does); "
          f"PyTorch {machine['pytorch']} ({machine['pytorch_cpu_capability']})", file=sys.stderr)
    print(f"{'case':28} {'swift s':>10} {'pytorch s':>10} {'ratio':>7}", file=sys.stderr)
    for r in results:
        print(f"{r['case']:28} {r['swift_s']:10.4f} {r['pytorch_s']:10.4f} {r['ratio_swift_over_pytorch']:7.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
