#!/usr/bin/env python3
"""make_optim_fixtures.py: reference values for tests/test_optim.c from PyTorch and transformers.

Writes into tests/fixtures/optim/ (a developer tool; nothing at build or test time runs it):

  adamw.safetensors      a few parameter tensors (some with weight decay, one without), 6 gradient sets,
                         and what torch.optim.AdamW (single-tensor path) does with them when every step
                         first clips with torch.nn.utils.clip_grad_norm_(max_norm) and takes its learning
                         rate from a warmup+cosine LambdaLR: the lr, the norm and the clipped gradients
                         of each step, the final parameters and moments.
  schedules.safetensors  the learning rate of every step (0..total) of transformers' schedules:
                         linear, cosine, cosine with a min-lr floor and constant, each with warmup.

Usage: python3 tools/make_optim_fixtures.py [out_dir]   (needs torch, transformers, safetensors)
"""
import json
import math
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import (
    get_constant_schedule_with_warmup,
    get_cosine_schedule_with_warmup,
    get_cosine_with_min_lr_schedule_with_warmup,
    get_linear_schedule_with_warmup,
)

N_STEPS = 6
LR = 1e-2
WEIGHT_DECAY = 0.1
MAX_NORM = 1.0
WARMUP_STEPS = 2
# Target gradient norms per step: some above MAX_NORM (clipped), some below (left alone).
GRAD_NORMS = [3.0, 0.5, 2.0, 0.3, 1.5, 0.8]

# name, shape, weight decay applies
PARAMS = [("w", (8, 16), True), ("b", (16,), False), ("c", (4, 5), True)]

# name, kind, peak lr, total steps, warmup fraction, min lr ratio
SCHEDULES = [
    ("linear", "linear", 3e-4, 100, 0.1, 0.0),
    ("linear_frac", "linear", 2e-4, 30, 0.07, 0.0),
    ("linear_nowarm", "linear", 5e-5, 7, 0.0, 0.0),
    ("cosine", "cosine", 1e-3, 50, 0.06, 0.0),
    ("cosine_long", "cosine", 2e-4, 1000, 0.03, 0.0),
    ("cosine_min", "cosine", 1e-3, 40, 0.05, 0.1),
    ("constant", "constant", 1e-4, 20, 0.25, 0.0),
]


def warmup_steps(total, frac):
    # ceil(frac * total), with a product within rounding of an integer taken as that integer (Python's
    # 0.07 * 100 is 7.000000000000001); retrace does the same with its float fraction.
    return math.ceil(round(frac * total, 9))


def make_adamw(out_dir):
    g = torch.Generator().manual_seed(1234)
    params = [torch.randn(shape, generator=g) for _, shape, _ in PARAMS]
    tensors = {f"init.{name}": p.clone() for (name, _, _), p in zip(PARAMS, params)}
    n_total = sum(p.numel() for p in params)
    grads = []
    for k in range(N_STEPS):
        raw = [torch.randn(p.shape, generator=g) for p in params]
        norm = math.sqrt(sum(float((r.double() ** 2).sum()) for r in raw))
        grads.append([(r * (GRAD_NORMS[k] / norm)).float() for r in raw])
        for (name, _, _), gr in zip(PARAMS, grads[k]):
            tensors[f"grad.{k}.{name}"] = gr.clone()

    leaves = [torch.nn.Parameter(p.clone()) for p in params]
    groups = [
        {"params": [t for t, (_, _, d) in zip(leaves, PARAMS) if d], "weight_decay": WEIGHT_DECAY},
        {"params": [t for t, (_, _, d) in zip(leaves, PARAMS) if not d], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=LR, foreach=False, fused=False)
    sched = get_cosine_schedule_with_warmup(opt, WARMUP_STEPS, N_STEPS)
    lrs, norms = [], []
    for k in range(N_STEPS):
        for t, gr in zip(leaves, grads[k]):
            t.grad = gr.clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_(leaves, MAX_NORM)))
        for (name, _, _), t in zip(PARAMS, leaves):
            tensors[f"clipped.{k}.{name}"] = t.grad.clone()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()

    for (name, _, _), t in zip(PARAMS, leaves):
        tensors[f"final.{name}"] = t.detach().clone()
        tensors[f"final_m.{name}"] = opt.state[t]["exp_avg"].clone()
        tensors[f"final_v.{name}"] = opt.state[t]["exp_avg_sq"].clone()
    tensors["lr"] = torch.tensor(lrs, dtype=torch.float64)
    tensors["norm"] = torch.tensor(norms, dtype=torch.float32)
    meta = {
        "params": ",".join(n for n, _, _ in PARAMS),
        "decay": ",".join("1" if d else "0" for _, _, d in PARAMS),
        "steps": str(N_STEPS),
        "lr": repr(LR),
        "weight_decay": repr(WEIGHT_DECAY),
        "max_norm": repr(MAX_NORM),
        "warmup_steps": str(WARMUP_STEPS),
        "betas": "0.9,0.999",
        "eps": "1e-08",
        "torch": torch.__version__,
    }
    save_file(tensors, os.path.join(out_dir, "adamw.safetensors"), metadata=meta)
    print(f"adamw: {n_total} parameters, lrs {lrs}, norms {norms}")


def schedule_lrs(kind, lr, total, warmup, min_ratio):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    if kind == "linear":
        sched = get_linear_schedule_with_warmup(opt, warmup, total)
    elif kind == "cosine" and min_ratio == 0.0:
        sched = get_cosine_schedule_with_warmup(opt, warmup, total)
    elif kind == "cosine":
        sched = get_cosine_with_min_lr_schedule_with_warmup(opt, warmup, total, min_lr_rate=min_ratio)
    elif kind == "constant":
        sched = get_constant_schedule_with_warmup(opt, warmup)
    else:
        raise ValueError(kind)
    lrs = []
    for _ in range(total + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def make_schedules(out_dir):
    import transformers

    tensors, cases = {}, []
    for name, kind, lr, total, frac, min_ratio in SCHEDULES:
        w = warmup_steps(total, frac)
        tensors[f"lr.{name}"] = torch.tensor(schedule_lrs(kind, lr, total, w, min_ratio), dtype=torch.float64)
        cases.append({"name": name, "kind": kind, "lr": lr, "total_steps": total, "warmup_frac": frac,
                      "warmup_steps": w, "min_lr_ratio": min_ratio})
    meta = {"cases": json.dumps(cases), "transformers": transformers.__version__}
    save_file(tensors, os.path.join(out_dir, "schedules.safetensors"), metadata=meta)
    print(f"schedules: {len(cases)} cases")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "fixtures", "optim")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    make_adamw(out_dir)
    make_schedules(out_dir)


if __name__ == "__main__":
    main()
