#!/usr/bin/env python3
"""check_gguf_export.py: llama.cpp as the peer for the GGUF files `retrace export --gguf` writes.

  python3 tools/check_gguf_export.py --retrace build/retrace [--fixtures tests/fixtures] [--smollm FILE.gguf]

1. Format: each exported file is read back with the `gguf` package; metadata, tensor names, shapes and
   types are checked, and every Q8_0 tensor's bytes equal gguf.quants.quantize of the F32 export's data.
2. Models: the Llama fixture (llama3 rope scaling, so rope_freqs.weight), the tied-embedding fixture and
   the Qwen2 fixture, each with a tokenizer trained by `retrace tokenizer-train`, are exported as F32,
   F16, BF16 and Q8_0; llama.cpp (llama-cpp-python) evaluates the prompt's ids and its logits are compared
   with `retrace generate --dump-logits` on the same ids.
3. Adapters: the fixture's rsLoRA adapter and the same weights as a plain adapter are exported and loaded
   with the F32 base in llama.cpp (scale 1); logits compared with retrace's model + adapter. The merged
   model (`--adapter --merge`) is compared too.
4. --smollm FILE.gguf: a random rsLoRA adapter for SmolLM2-135M is written and exported; retrace (on the
   Q4_1 file dequantized to float32) is compared with llama.cpp on the F32 GGUF retrace exports from it,
   with and without the adapter, and the adapter's effect (with minus without) with llama.cpp on the
   Q4_1 file itself.

Exits 0 when every check passes, 1 on a failure, 77 (skipped, reason printed) when numpy or gguf is
missing; without llama_cpp the format checks run and the llama.cpp comparisons print "skip". Tolerances are max |difference| / max |logit| over all positions and the vocabulary.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SKIP = 77
TOL = {"f32": 2e-5, "f16": 2e-3, "bf16": 1e-2, "q8_0": 3e-2}
TOL_ADAPTER = 2e-5
# Typed adapters: llama.cpp also quantizes the activations that meet a Q8_0 lora_a, and the fixture's
# adapter moves the logits a lot, so its q8_0 error is larger than a q8_0 model's.
TOL_ADAPTER_TYPED = {"f16": 2e-3, "q8_0": 1e-1}
TOL_SMOLLM_COS = 0.9  # the adapter's delta: llama.cpp runs the Q4_1 base, retrace its float32 copy
PROMPT = "the quick brown fox jumps over the lazy dog; think: act: obs: hello world 42"

try:
    import numpy as np
    import gguf
except ImportError as e:  # nothing can be checked without these
    print(f"SKIP: {e.name} is not installed (pip install numpy gguf llama-cpp-python)")
    sys.exit(SKIP)
try:
    import llama_cpp
except ImportError:  # the format checks still run
    llama_cpp = None

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))}: {r.stderr.strip()}")
    return r.stdout


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dt = {"F32": np.float32, "I32": np.int32}
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        out[k] = np.frombuffer(data[b:e], dtype=dt[v["dtype"]]).reshape(v["shape"])
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for k, a in tensors.items():
        b = np.ascontiguousarray(a, dtype=np.float32).tobytes()
        header[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def retrace_logits(bin_, work, model, adapter=None, tokenizer=None, prompt=PROMPT):
    out = os.path.join(work, "dump.safetensors")
    args = [bin_, "generate", "--model", model, "--prompt", prompt, "--dump-logits", out]
    if adapter:
        args += ["--adapter", adapter]
    if tokenizer:
        args += ["--tokenizer", tokenizer]
    run(*args)
    t = read_safetensors(out)
    return t["input_ids"].astype(np.int64).tolist(), t["logits"]


def llama_logits(model_path, ids, lora=None):
    """llama.cpp's logits at every position of ids (None when llama-cpp-python is not installed)."""
    if llama_cpp is None:
        return None
    # An F32 KV cache: llama.cpp's default F16 cache alone moves the logits by ~1e-4.
    kw = dict(model_path=model_path, n_ctx=max(64, len(ids) + 8), logits_all=True, verbose=False, n_threads=1,
              n_batch=512, type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32)
    if lora:
        kw.update(lora_path=lora, lora_scale=1.0)
    llm = llama_cpp.Llama(**kw)
    llm.eval(ids)
    out = np.array(llm.scores[: len(ids)], dtype=np.float32)
    llm.close() if hasattr(llm, "close") else None
    return out


def compare(got, want, tol, what):
    if got is None:
        print(f"skip {what}: llama_cpp is not installed")
        return
    e = rel_err(got, want)
    check(e < tol, f"{what}, max rel diff {e:.2e} (tol {tol:.0e})")


def check_tokenizer(model_path, ids, what):
    """llama.cpp's tokenization of PROMPT with the exported tokenizer metadata against retrace's ids."""
    if llama_cpp is None:
        return
    llm = llama_cpp.Llama(model_path=model_path, vocab_only=True, verbose=False)
    got = llm.tokenize(PROMPT.encode(), add_bos=False, special=False)
    want = ids[1:] if ids and ids[0] == llm.token_bos() else ids
    check(got == want, f"{what}: llama.cpp tokenizes the prompt as retrace does ({len(want)} ids)")


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(1e-12, np.max(np.abs(b))))


def check_format(path, f32_path=None):
    """Reads an export back with the gguf package; Q8_0 bytes against gguf.quants.quantize of F32 data."""
    r = gguf.GGUFReader(path)
    fields = {k: v for k, v in r.fields.items()}
    arch = bytes(fields["general.architecture"].parts[-1]).decode()
    check(r.fields["GGUF.version"].parts[-1][0] == 3, f"{os.path.basename(path)}: GGUF version 3")
    check(all(t.data_offset % 32 == 0 for t in r.tensors), f"{os.path.basename(path)}: tensor data 32-byte aligned")
    if f32_path is None:
        return r, arch
    ref = {t.name: t for t in gguf.GGUFReader(f32_path).tensors}
    n, same = 0, True
    for t in r.tensors:
        x = np.asarray(ref[t.name].data, dtype=np.float32)
        if t.tensor_type == gguf.GGMLQuantizationType.Q8_0:
            want = gguf.quants.quantize(x, gguf.GGMLQuantizationType.Q8_0)
        elif t.tensor_type == gguf.GGMLQuantizationType.F16:
            want = x.astype(np.float16)
        elif t.tensor_type == gguf.GGMLQuantizationType.BF16:
            want = gguf.quants.quantize(x, gguf.GGMLQuantizationType.BF16)
        else:
            want = x
        n += 1
        same &= np.asarray(want).tobytes() == np.asarray(t.data).tobytes()
    check(same, f"{os.path.basename(path)}: all {n} tensors equal the F32 export converted by numpy / gguf.quants "
          "bit for bit")
    return r, arch


def prepare_model(bin_, fixtures, family, work):
    """A fixture model with a byte-level BPE of <= its 320 ids trained for it (the vocab is padded)."""
    d = os.path.join(work, family)
    shutil.copytree(os.path.join(fixtures, "models", family, "model"), d)
    corpus = os.path.join(work, "corpus.txt")
    with open(corpus, "w") as f:
        for i in range(300):
            f.write(f"{PROMPT} {i} the cat sat on the mat; pick up the apple, put it in the fridge\n")
    run(bin_, "tokenizer-train", "--vocab", "300", "--chat-template", "chatml", "-o", d, corpus)
    return d


def check_models(bin_, fixtures, work):
    for family in ["llama", "tied", "qwen2"]:
        model = prepare_model(bin_, fixtures, family, work)
        ids, ref = retrace_logits(bin_, work, model)
        f32 = None
        for t in ["f32", "f16", "bf16", "q8_0"]:
            out = os.path.join(work, f"{family}-{t}.gguf")
            run(bin_, "export", "--gguf", out, "--model", model, "--type", t)
            r, arch = check_format(out, f32)
            if t == "f32":
                f32 = out
                check_tokenizer(out, ids, f"{family} tokenizer.ggml.* (pre {bytes(r.fields['tokenizer.ggml.pre'].parts[-1]).decode()})")
                names = {x.name for x in r.tensors}
                cfg = json.load(open(os.path.join(model, "config.json")))
                kv = lambda k: r.fields[f"{arch}.{k}"].parts[-1][0]
                check(kv("attention.head_count") == cfg["num_attention_heads"] and
                      kv("attention.head_count_kv") == cfg["num_key_value_heads"] and
                      kv("block_count") == cfg["num_hidden_layers"] and kv("embedding_length") == cfg["hidden_size"] and
                      len(r.fields["tokenizer.ggml.tokens"].data) == cfg["vocab_size"],
                      f"{family}: hyperparameters and the {cfg['vocab_size']} tokens as config.json says")
                check(arch == ("qwen2" if family == "qwen2" else "llama"), f"{family}: general.architecture {arch}")
                check(("output.weight" in names) == (family != "tied"), f"{family}: output.weight only when untied")
                check(("rope_freqs.weight" in names) == (family == "llama"), f"{family}: rope_freqs.weight for llama3 rope")
            compare(llama_logits(out, ids), ref, TOL[t], f"{family} {t}: llama.cpp vs retrace logits")
        yield family, model, f32, ids, ref


def plain_copy(adapter, work, name):
    d = os.path.join(work, name)
    shutil.copytree(adapter, d)
    cfg = json.load(open(os.path.join(d, "adapter_config.json")))
    cfg["use_rslora"] = False
    json.dump(cfg, open(os.path.join(d, "adapter_config.json"), "w"))
    return d


def check_adapters(bin_, fixtures, work, family, model, base_gguf):
    rs = os.path.join(fixtures, "models", family, "adapter")
    for kind, adapter in [("rsLoRA", rs), ("plain", plain_copy(rs, work, f"{family}-plain"))]:
        ids, ref = retrace_logits(bin_, work, model, adapter)
        out = os.path.join(work, f"{family}-{kind}.gguf")
        run(bin_, "export", "--gguf", out, "--model", model, "--adapter", adapter)
        r, _ = check_format(out)
        alpha = float(r.fields["adapter.lora.alpha"].parts[-1][0])
        cfg = json.load(open(os.path.join(adapter, "adapter_config.json")))
        want = cfg["lora_alpha"] * (cfg["r"] ** 0.5 if cfg.get("use_rslora") else 1)
        check(abs(alpha - want) < 1e-4 * want, f"{family} {kind}: adapter.lora.alpha {alpha:.4f} (want {want:.4f})")
        compare(llama_logits(base_gguf, ids, out), ref, TOL_ADAPTER, f"{family} {kind}: llama.cpp base+adapter vs retrace")
        for t in ["f16", "q8_0"]:  # lora_b of r 8 values a row falls back from Q8_0 to F16
            typed = os.path.join(work, f"{family}-{kind}-{t}.gguf")
            run(bin_, "export", "--gguf", typed, "--model", model, "--adapter", adapter, "--type", t)
            compare(llama_logits(base_gguf, ids, typed), ref, TOL_ADAPTER_TYPED[t], f"{family} {kind}: {t} adapter in llama.cpp vs retrace")
        merged = os.path.join(work, f"{family}-{kind}-merged.gguf")
        run(bin_, "export", "--gguf", merged, "--model", model, "--adapter", adapter, "--merge")
        compare(llama_logits(merged, ids), ref, TOL["f32"], f"{family} {kind}: llama.cpp merged model vs retrace model+adapter")


def check_smollm(bin_, smollm, work, tokenizer):
    """A random rsLoRA adapter on SmolLM2-135M: against llama.cpp on the F32 file retrace exports from the
    Q4_1 one (retrace's dequantized weights, so a tight match), and the adapter's effect (with minus
    without) against llama.cpp on the Q4_1 file itself."""
    r = gguf.GGUFReader(smollm)
    get = lambda k: int(r.fields[k].parts[-1][0])
    H, I, L = get("llama.embedding_length"), get("llama.feed_forward_length"), get("llama.block_count")
    nh, nkv = get("llama.attention.head_count"), get("llama.attention.head_count_kv")
    hd, rank = H // nh, 8
    dims = {"q_proj": (nh * hd, H), "k_proj": (nkv * hd, H), "v_proj": (nkv * hd, H), "o_proj": (H, nh * hd),
            "gate_proj": (I, H), "up_proj": (I, H), "down_proj": (H, I)}
    rng = np.random.default_rng(0)
    tensors = {}
    for l in range(L):
        for p, (o, i) in dims.items():
            part = "self_attn" if p[0] in "qkvo" else "mlp"
            key = f"base_model.model.model.layers.{l}.{part}.{p}"
            tensors[key + ".lora_A.weight"] = rng.uniform(-1, 1, (rank, i)) / np.sqrt(i)
            # Large enough that the adapter's effect stands above the jitter of llama.cpp's 8-bit
            # activations on the Q4_1 base (the delta is compared there too).
            tensors[key + ".lora_B.weight"] = rng.normal(0, 0.02, (o, rank))
    ad = os.path.join(work, "smollm-adapter")
    os.makedirs(ad)
    write_safetensors(os.path.join(ad, "adapter_model.safetensors"), tensors)
    json.dump({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": 16, "use_rslora": True,
               "target_modules": list(dims), "lora_dropout": 0.0, "bias": "none"},
              open(os.path.join(ad, "adapter_config.json"), "w"))
    lora = os.path.join(work, "smollm-lora.gguf")
    run(bin_, "export", "--gguf", lora, "--model", smollm, "--adapter", ad)
    f32 = os.path.join(work, "smollm-f32.gguf")
    run(bin_, "export", "--gguf", f32, "--model", smollm)
    src = {t.name: t for t in r.tensors}
    out = gguf.GGUFReader(f32).tensors
    same = {t.name for t in out} == set(src) and all(
        np.array_equal(gguf.quants.dequantize(src[t.name].data, src[t.name].tensor_type).reshape(-1),
                       np.asarray(t.data, dtype=np.float32).reshape(-1)) for t in out)
    check(same, f"smollm2 F32 export: all {len(out)} tensors equal gguf.quants.dequantize of the Q4_1 file's, "
          "bit for bit (Q/K permutation undone on reading, redone on writing)")
    # Ids from the small fixture tokenizer are valid SmolLM2 ids; both sides get the same ones.
    ids, base = retrace_logits(bin_, work, smollm, tokenizer=tokenizer)
    _, with_ad = retrace_logits(bin_, work, smollm, ad, tokenizer=tokenizer)
    compare(llama_logits(f32, ids), base, TOL["f32"], "smollm2 F32 export: llama.cpp vs retrace logits")
    compare(llama_logits(f32, ids, lora), with_ad, TOL["f32"], "smollm2 F32 export + rsLoRA adapter: llama.cpp vs retrace")
    if llama_cpp is None:
        return
    lbase, lad = llama_logits(smollm, ids), llama_logits(smollm, ids, lora)
    d_rt, d_ll = with_ad - base, lad - lbase
    e = rel_err(d_ll, d_rt)
    cos = float(np.sum(d_ll * d_rt) / np.sqrt(np.sum(d_ll * d_ll) * np.sum(d_rt * d_rt)))
    check(cos > TOL_SMOLLM_COS, f"smollm2 Q4_1 in llama.cpp: adapter delta vs retrace's, cosine {cos:.4f} "
          f"(min {TOL_SMOLLM_COS}), max rel diff {e:.2e} (delta max {np.max(np.abs(d_rt)):.3f}; the base logits "
          f"differ by {rel_err(lbase, base):.2e})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--retrace", required=True)
    ap.add_argument("--fixtures", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures"))
    ap.add_argument("--smollm", help="SmolLM2-135M-Instruct GGUF (skipped when absent)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        tokenizer = None
        for family, model, f32, _, _ in check_models(a.retrace, a.fixtures, work):
            tokenizer = tokenizer or model
            if family in ("llama", "qwen2"):
                check_adapters(a.retrace, a.fixtures, work, family, model, f32)
        if a.smollm and os.path.exists(a.smollm):
            check_smollm(a.retrace, a.smollm, work, tokenizer)
        elif a.smollm:
            print(f"skip smollm2: {a.smollm} not found")
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
