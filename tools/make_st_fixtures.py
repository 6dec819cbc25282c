#!/usr/bin/env python3
"""make_st_fixtures.py: safetensors fixtures written by the reference (Python safetensors + transformers).

Developer tool, not a runtime dependency (needs torch, safetensors, transformers from PyPI).

    python3 tools/make_st_fixtures.py              # writes tests/fixtures/safetensors/
    python3 tools/make_st_fixtures.py --check DIR  # loads files that retrace wrote (see below)

Outputs (all small, committed):
  mixed.safetensors      every dtype retrace knows: one float tensor as F32/F16/BF16 (with subnormal,
                         inf, nan, overflow values), I64 token ids, I32/I16/I8/U8/BOOL/F64, a scalar, an
                         empty tensor; metadata {"format": "pt"}
  rounding.safetensors   float32 values at and near rounding ties with torch's F16 and BF16 roundings
  sharded/               a tiny Llama saved by transformers in 2 shards with model.safetensors.index.json
  llama_bf16/            the same model saved unsharded (model.safetensors) with its config.json
  expected.json          what the C test must read: dtypes, shapes, exact values (floats as float.hex())

--check DIR: DIR is what tests/test_safetensors.c writes when RT_ST_EXPORT_DIR is set. Every
*.safetensors there must load in safetensors (torch and numpy) with the same values as the fixture it
copies, and DIR/llama must load in transformers and give exactly the logits of llama_bf16.
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "safetensors")
SEED = 1234


def fhex(x):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x.hex()


def describe(t):
    """Dtype, shape and the exact values a reader must produce (float32 for floats, ints for ints)."""
    if t.dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        vals = [fhex(v) for v in t.to(torch.float32).flatten().tolist()]
    else:
        vals = [int(v) for v in t.to(torch.int64).flatten().tolist()]
    return {"shape": list(t.shape), "values": vals}


def float_source():
    """A 3x5 float tensor covering the cases where conversions go wrong."""
    special = [0.0, -0.0, 1.0, -2.5, 65504.0, 70000.0, 1e-7, 6e-8, 1e-8, float("inf"), float("-inf"),
               float("nan"), 3.14159265, 1e30, -1.0e-5]
    return torch.tensor(special, dtype=torch.float32).reshape(3, 5)


def make_mixed():
    g = torch.Generator().manual_seed(SEED)
    w = float_source()
    tensors = {
        "w_f32": w,
        "w_f16": w.to(torch.float16),
        "w_bf16": w.to(torch.bfloat16),
        "input_ids": torch.tensor([[1, 15043, 3186, 29991, 2, 0], [1, 49151, 7, 128000, 31999, 2]], dtype=torch.int64),
        "big_i64": torch.tensor([5, 1 << 40], dtype=torch.int64),
        "i32": torch.tensor([-2147483648, -1, 0, 2147483647], dtype=torch.int32),
        "i16": torch.tensor([[-32768, 5], [32767, -7]], dtype=torch.int16),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "mask": torch.tensor([True, False, True, True, False]),
        "f64": torch.randn(2, 2, generator=g, dtype=torch.float64),
        "scalar": torch.tensor(2.75, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        # A name that needs JSON escaping, to check our writer escapes as the Python library does.
        "odd \"name\"\t\u00e9": torch.arange(3, dtype=torch.float32),
    }
    path = os.path.join(OUT, "mixed.safetensors")
    save_file(tensors, path, metadata={"format": "pt"})
    return {"file": "mixed.safetensors", "metadata": {"format": "pt"},
            "tensors": {k: dict(describe(v), dtype=dtype_name(v.dtype)) for k, v in tensors.items()}}


def dtype_name(d):
    return {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
            torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
            torch.bool: "BOOL"}[d]


def make_rounding():
    """Float32 values at rounding ties and around them, for both half formats, plus random ones."""
    g = np.random.default_rng(SEED)
    bits = []
    for _ in range(200):
        hi = int(g.integers(0, 1 << 16))
        bits += [(hi << 16) | 0x8000, (hi << 16) | 0x7fff, (hi << 16) | 0x8001]  # bf16 ties and neighbours
    for e in list(range(102, 113)) + list(range(113, 143)):  # f16 subnormal and normal exponents
        for _ in range(6):
            m = int(g.integers(0, 1 << 10)) << 13
            s = int(g.integers(0, 2)) << 31
            bits += [s | (e << 23) | m | 0x1000, s | (e << 23) | m | 0x0fff, s | (e << 23) | m | 0x1001]
    bits += [int(b) for b in g.integers(0, 1 << 32, size=300, dtype=np.uint64)]
    bits += [0x477fe000, 0x477fefff, 0x477ff000, 0x7f7fffff, 0x7f800001, 0xffc00000, 0x33000000, 0x33000001]
    src = torch.from_numpy(np.array(bits, dtype=np.uint32).view(np.float32).copy())
    save_file({"src": src, "f16": src.to(torch.float16), "bf16": src.to(torch.bfloat16)},
              os.path.join(OUT, "rounding.safetensors"))
    return {"file": "rounding.safetensors", "count": len(bits)}


def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(SEED)
    cfg = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                      tie_word_embeddings=False)
    return LlamaForCausalLM(cfg).to(torch.bfloat16)


def checkpoint_summary(folder, files):
    """Per tensor: shape, the shard it is in, its first values and its float64 sum (exact for bf16)."""
    out = {}
    for f in files:
        for k, t in load_file(os.path.join(folder, f)).items():
            v = t.to(torch.float64).flatten()
            out[k] = {"shape": list(t.shape), "shard": f, "dtype": dtype_name(t.dtype),
                      "first": [fhex(x) for x in v[:8].tolist()], "sum": fhex(v.sum().item())}
    return out


def make_checkpoints():
    model = tiny_llama()
    sharded = os.path.join(OUT, "sharded")
    single = os.path.join(OUT, "llama_bf16")
    for d in (sharded, single):
        shutil.rmtree(d, ignore_errors=True)
    # 8 KB shards split this 11 KB model in two, as a real multi-GB checkpoint is split.
    model.save_pretrained(sharded, max_shard_size="8KB")
    model.save_pretrained(single)
    for d in (sharded, single):
        gen = os.path.join(d, "generation_config.json")
        if os.path.exists(gen):
            os.remove(gen)
    shards = sorted(f for f in os.listdir(sharded) if f.endswith(".safetensors"))
    assert len(shards) == 2, shards
    with open(os.path.join(sharded, "model.safetensors.index.json")) as fp:
        index = json.load(fp)
    assert set(index["weight_map"].values()) == set(shards)
    with safe_open(os.path.join(single, "model.safetensors"), framework="pt") as f:
        meta = f.metadata()
    return {"sharded": {"index": "sharded/model.safetensors.index.json", "shards": shards,
                        "tensors": checkpoint_summary(sharded, shards)},
            "llama_bf16": {"folder": "llama_bf16", "metadata": meta,
                           "tensors": checkpoint_summary(single, ["model.safetensors"])}}


def check(folder):
    """Loads what retrace wrote with the reference libraries; exits non-zero on any difference."""
    from transformers import AutoModelForCausalLM
    n = 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".safetensors"):
            continue
        path = os.path.join(folder, name)
        pt = load_file(path)
        with safe_open(path, framework="pt") as f:
            meta = f.metadata()
        # numpy has no bfloat16, so the numpy reader gets every other tensor.
        with safe_open(path, framework="numpy") as f:
            npy = {k: f.get_tensor(k) for k in f.keys() if pt[k].dtype != torch.bfloat16}
        for k, v in npy.items():
            assert v.shape == tuple(pt[k].shape) and np.array_equal(v, pt[k].numpy(), equal_nan=v.dtype.kind == "f"), k
        assert meta.get("format") == "pt", (name, meta)
        ref_path = os.path.join(OUT, name.replace("copy_", "")) if name.startswith("copy_") else None
        if ref_path:
            ref = load_file(ref_path)
            assert ref.keys() == pt.keys(), name
            for k in ref:
                assert ref[k].dtype == pt[k].dtype and ref[k].shape == pt[k].shape, (name, k)
                # Compare bytes, so NaNs and -0.0 count too.
                a, b = ref[k].reshape(-1), pt[k].reshape(-1)
                assert torch.equal(a.view(torch.uint8), b.view(torch.uint8)), (name, k)
        print(f"ok {name}: {len(pt)} tensors in torch, {len(npy)} also in numpy, metadata {meta}")
        n += 1
    llama = os.path.join(folder, "llama")
    ids = torch.tensor([[1, 5, 9, 30, 2, 17, 4]])
    ref = AutoModelForCausalLM.from_pretrained(os.path.join(OUT, "llama_bf16"))
    got = AutoModelForCausalLM.from_pretrained(llama)
    with torch.no_grad():
        a, b = ref(ids).logits, got(ids).logits
    assert torch.equal(a, b), (a - b).abs().max()
    print(f"ok llama: transformers loads it; logits identical to llama_bf16 ({tuple(a.shape)})")
    print(f"{n + 1} checks passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", metavar="DIR", help="load files retrace wrote into DIR")
    args = ap.parse_args()
    if args.check:
        check(args.check)
        return
    os.makedirs(OUT, exist_ok=True)
    expected = {"mixed": make_mixed(), "rounding": make_rounding()}
    expected.update(make_checkpoints())
    with open(os.path.join(OUT, "expected.json"), "w") as fp:
        json.dump(expected, fp, indent=1, sort_keys=True)
        fp.write("\n")
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    sys.exit(main())
