"""Step-by-step fixtures for the schedulers, produced by diffusers' schedulers of the same name.

Command (from the repository root):
    /work/.venv-ref/bin/python Tests/Reference/make_scheduler_fixtures.py Tests/BlendedLatentTests/Fixtures/schedulers

Writes `cases.json`: for each case the scheduler class, its `scheduler_config.json` content, the step count,
the begin index (image-to-image strength: the first steps are skipped, as `set_begin_index`), η and the seed
for stochastic steps, the timesteps and sigmas after `set_timesteps`, `init_noise_sigma`, the noised start
sample (`add_noise` at the begin index) and every sample after each `step`.

LCM cases pass `strength` to `set_timesteps` (its own image-to-image rule) and always start at index 0.

The fake model output is deterministic so the Swift test can compute it from its own trajectory:
    model_output = 0.9 * tanh(scale_model_input(x)) + 0.001 * timestep
"""
import json
import sys
from pathlib import Path

import diffusers
import numpy as np
import torch

SD = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
          steps_offset=1, set_alpha_to_one=False, clip_sample=False, skip_prk_steps=True, trained_betas=None,
          _class_name="PNDMScheduler")
LINEAR = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear")

CASES = [
    # name, class, config, steps, begin, eta, seed[, strength (LCM's set_timesteps)]
    ("ddim-sd-leading-50", "DDIMScheduler", SD, 50, 0, 0.0, None),
    ("ddim-sd-trailing-v-10", "DDIMScheduler", {**SD, "timestep_spacing": "trailing", "prediction_type": "v_prediction"}, 10, 0, 0.0, None),
    ("ddim-linear-defaults-linspace-eta-10", "DDIMScheduler", {**LINEAR, "timestep_spacing": "linspace"}, 10, 0, 0.5, 11),
    ("ddim-sd-strength-eta1-10", "DDIMScheduler", {**SD, "set_alpha_to_one": True, "clip_sample": True, "clip_sample_range": 1.5}, 10, 3, 1.0, 12),
    ("ddim-sd-leading-7", "DDIMScheduler", SD, 7, 0, 0.0, None),
    ("dpm-sd-linspace-50", "DPMSolverMultistepScheduler", SD, 50, 0, 0.0, None),
    ("dpm-sd-karras-v-10", "DPMSolverMultistepScheduler", {**SD, "use_karras_sigmas": True, "prediction_type": "v_prediction"}, 10, 0, 0.0, None),
    ("dpm-sd-leading-karras-heun-20-begin5", "DPMSolverMultistepScheduler", {**SD, "timestep_spacing": "leading", "use_karras_sigmas": True, "solver_type": "heun"}, 20, 5, 0.0, None),
    ("dpm-linear-trailing-sigmamin-10", "DPMSolverMultistepScheduler", {**LINEAR, "timestep_spacing": "trailing", "final_sigmas_type": "sigma_min"}, 10, 0, 0.0, None),
    ("dpm-sd-order1-karras-16", "DPMSolverMultistepScheduler", {**SD, "solver_order": 1, "use_karras_sigmas": True}, 16, 0, 0.0, None),
    ("dpm-sd-linspace-20-nolowerfinal-sigmamin", "DPMSolverMultistepScheduler", {**SD, "lower_order_final": False, "final_sigmas_type": "sigma_min"}, 20, 0, 0.0, None),
    ("euler-sd-linspace-50", "EulerDiscreteScheduler", SD, 50, 0, 0.0, None),
    ("euler-sd-leading-v-10", "EulerDiscreteScheduler", {**SD, "timestep_spacing": "leading", "prediction_type": "v_prediction"}, 10, 0, 0.0, None),
    ("euler-sd-trailing-karras-10-begin4", "EulerDiscreteScheduler", {**SD, "timestep_spacing": "trailing", "use_karras_sigmas": True}, 10, 4, 0.0, None),
    ("euler-linear-sigmamin-10", "EulerDiscreteScheduler", {**LINEAR, "final_sigmas_type": "sigma_min"}, 10, 0, 0.0, None),
    ("eulera-sd-linspace-10", "EulerAncestralDiscreteScheduler", SD, 10, 0, 0.0, 21),
    ("eulera-sd-leading-v-50-begin10", "EulerAncestralDiscreteScheduler", {**SD, "timestep_spacing": "leading", "prediction_type": "v_prediction"}, 50, 10, 0.0, 22),
    # Trailing spacing (Hyper-SD, few steps).
    ("ddim-sd-trailing-4", "DDIMScheduler", {**SD, "timestep_spacing": "trailing"}, 4, 0, 0.0, None),
    ("ddim-sd-trailing-8-begin2", "DDIMScheduler", {**SD, "timestep_spacing": "trailing"}, 8, 2, 0.0, None),
    ("euler-sd-trailing-4", "EulerDiscreteScheduler", {**SD, "timestep_spacing": "trailing"}, 4, 0, 0.0, None),
    ("euler-sd-trailing-v-8-begin2", "EulerDiscreteScheduler", {**SD, "timestep_spacing": "trailing", "prediction_type": "v_prediction"}, 8, 2, 0.0, None),
    ("eulera-sd-trailing-6", "EulerAncestralDiscreteScheduler", {**SD, "timestep_spacing": "trailing"}, 6, 0, 0.0, 36),
    # LCM: set_timesteps(steps, strength=...) (the last element); every step but the last draws noise.
    ("lcm-sd-4", "LCMScheduler", SD, 4, 0, 0.0, 31, 1.0),
    ("lcm-sd-4-s075", "LCMScheduler", SD, 4, 0, 0.0, 32, 0.75),
    ("lcm-sd-8-s075-v", "LCMScheduler", {**SD, "prediction_type": "v_prediction"}, 8, 0, 0.0, 33, 0.75),
    ("lcm-defaults-2", "LCMScheduler", {}, 2, 0, 0.0, 34, 1.0),
    ("lcm-sd-1", "LCMScheduler", SD, 1, 0, 0.0, 37, 1.0),
    ("lcm-sd-6-v-orig25-clip-scaling5", "LCMScheduler", {**SD, "prediction_type": "v_prediction", "original_inference_steps": 25, "clip_sample": True, "clip_sample_range": 0.9, "timestep_scaling": 5.0}, 6, 0, 0.0, 35, 1.0),
]

SHAPE = (1, 2, 3, 4)


def floats(t):
    return [float(v) for v in np.asarray(t, dtype=np.float32).reshape(-1)]


def run(name, cls_name, config, steps, begin, eta, seed, strength=1.0):
    cls = getattr(diffusers, cls_name)
    scheduler = cls.from_config(config)
    if cls_name == "LCMScheduler":
        scheduler.set_timesteps(steps, strength=strength)
    else:
        scheduler.set_timesteps(steps)
    if cls_name not in ("DDIMScheduler", "LCMScheduler"):
        scheduler.set_begin_index(begin)
    timesteps = scheduler.timesteps[begin:]
    x0 = torch.linspace(-1.2, 1.1, int(np.prod(SHAPE)), dtype=torch.float32).reshape(SHAPE)
    noise = torch.cos(torch.arange(np.prod(SHAPE), dtype=torch.float32) * 1.7).reshape(SHAPE)
    noised = scheduler.add_noise(x0, noise, timesteps[:1])
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    sample = noised.clone()
    samples = []
    for t in timesteps:
        model_input = scheduler.scale_model_input(sample, t)
        output = 0.9 * torch.tanh(model_input) + 0.001 * float(t)
        kwargs = {}
        if cls_name == "DDIMScheduler":
            kwargs = dict(eta=eta, generator=generator)
        elif cls_name in ("EulerAncestralDiscreteScheduler", "LCMScheduler"):
            kwargs = dict(generator=generator)
        sample = scheduler.step(output, t, sample, **kwargs).prev_sample
        samples.append(floats(sample))
    case = dict(name=name, scheduler=cls_name, config=config, steps=steps, begin_index=begin, eta=eta, strength=strength,
                seed=seed, shape=list(SHAPE), original=floats(x0), noise=floats(noise), noised=floats(noised),
                timesteps=[float(t) for t in scheduler.timesteps], samples=samples,
                init_noise_sigma=float(scheduler.init_noise_sigma))
    if hasattr(scheduler, "sigmas") and cls_name not in ("DDIMScheduler", "LCMScheduler"):
        case["sigmas"] = floats(scheduler.sigmas)
    case["alphas_cumprod"] = floats(scheduler.alphas_cumprod)
    return case


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "Tests/BlendedLatentTests/Fixtures/schedulers")
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    cases = [run(*case) for case in CASES]
    for case in cases:  # keep the file small: the full table once per distinct config is enough
        case["alphas_cumprod"] = case["alphas_cumprod"] if case["name"] in ("ddim-sd-leading-50", "ddim-linear-defaults-linspace-eta-10") else None
    (out / "cases.json").write_text(json.dumps(
        dict(diffusers=diffusers.__version__, torch=torch.__version__, cases=cases)) + "\n")
    (out / "README.md").write_text(
        "# schedulers\n\nGenerated by `Tests/Reference/make_scheduler_fixtures.py` "
        f"(diffusers {diffusers.__version__}, torch {torch.__version__}). One entry per case in `cases.json`.\n")


if __name__ == "__main__":
    main()
