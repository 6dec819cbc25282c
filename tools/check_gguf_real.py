#!/usr/bin/env python3
"""The reference for retrace on a real GGUF model: SmolLM2-135M-Instruct (Q4_1, from
scripts/get-model.sh smollm2-135m-instruct) loaded by transformers from the same file
(`from_pretrained(dir, gguf_file=...)`, which dequantizes to float32 with the `gguf` package).

    python3 tools/check_gguf_real.py [--gguf FILE] [--check build/tests/test_gguf_real]

Writes tests/fixtures/gguf/smollm2.ref.json: for a dozen plain prompts (no chat template), the prompt
ids, the logits at the last position (the 32 largest and 32 fixed ids, and the log-sum-exp over the
whole vocabulary) and 20 greedily generated ids; and tests/fixtures/gguf/smollm2.tok.json: the ids
of every text of tests/fixtures/tok/corpus.json from transformers' tokenizer of the same file and, when
llama-cpp-python is installed, from llama.cpp's (vocab only). tests/test_gguf_real.c compares retrace
with both files. Without torch/transformers or the model file it prints why and exits 0.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "tests", "fixtures")
DEFAULT_GGUF = os.path.join(os.environ.get("RETRACE_MODELS", os.path.expanduser("~/.cache/retrace/models")),
                            "smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf")
PROMPTS = [
    "The capital of France is",
    "Once upon a time, there was a",
    "def fibonacci(n):",
    "The three primary colors are",
    "Water boils at a temperature of",
    "To make a cup of tea, first",
    "The quick brown fox",
    "In 1969, the first person to walk on the moon was",
    "List three fruits: apple,",
    "Photosynthesis is the process by which",
    "Bonjour, je m'appelle",
    "The opposite of hot is",
]
N_GREEDY = 20
N_TOP = 32


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(0)


def model_refs(torch, model, tok):
    out = []
    fixed = list(range(0, 49152, 1536))[:N_TOP]
    for p in PROMPTS:
        ids = tok(p, add_special_tokens=True).input_ids
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1].double()
            gen = model.generate(torch.tensor([ids]), max_new_tokens=N_GREEDY, do_sample=False, num_beams=1,
                                 eos_token_id=None, pad_token_id=tok.pad_token_id)[0, len(ids):].tolist()
        top = torch.topk(logits, N_TOP).indices.tolist()
        pick = top + [i for i in fixed if i not in top]
        out.append({"prompt": p, "ids": ids, "logit_ids": pick, "logits": [float(logits[i]) for i in pick],
                    "logsumexp": float(torch.logsumexp(logits, 0)), "greedy": gen})
    return out


def numpy_refs(gguf_path, tok_ids):
    """Without torch: the same forward pass in numpy (float64) on the GGUF tensors as llama.cpp lays
    them out (q/k rows interleaved, RoPE on adjacent pairs as ggml's "normal" mode does), so it also
    checks retrace's undoing of the permutation independently."""
    import numpy as np
    import gguf
    r = gguf.GGUFReader(gguf_path)
    f = {k: v.contents() for k, v in r.fields.items() if not k.startswith("tokenizer.ggml.")}
    W = {t.name: gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float64).reshape([int(x) for x in reversed(t.shape)])
         for t in r.tensors}
    L, nh, nkv = f["llama.block_count"], f["llama.attention.head_count"], f["llama.attention.head_count_kv"]
    H, eps, theta = f["llama.embedding_length"], f["llama.attention.layer_norm_rms_epsilon"], f["llama.rope.freq_base"]
    hd = H // nh
    lm = W.get("output.weight", W["token_embd.weight"])

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(x):  # x (T, heads, hd): pairs (2i, 2i+1) rotate by pos * theta^(-2i/hd)
        T = x.shape[0]
        ang = np.arange(T)[:, None] * theta ** (-np.arange(0, hd, 2) / hd)[None, :]
        c, s_ = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = a * c - b * s_, a * s_ + b * c
        return out

    def forward(ids):
        x = W["token_embd.weight"][ids]
        T = len(ids)
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for l in range(L):
            p = f"blk.{l}."
            h = rms(x, W[p + "attn_norm.weight"])
            q = rope((h @ W[p + "attn_q.weight"].T).reshape(T, nh, hd))
            k = rope((h @ W[p + "attn_k.weight"].T).reshape(T, nkv, hd))
            v = (h @ W[p + "attn_v.weight"].T).reshape(T, nkv, hd)
            k, v = np.repeat(k, nh // nkv, 1), np.repeat(v, nh // nkv, 1)
            att = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            x = x + np.einsum("hts,shd->thd", att, v).reshape(T, H) @ W[p + "attn_output.weight"].T
            h = rms(x, W[p + "ffn_norm.weight"])
            g = h @ W[p + "ffn_gate.weight"].T
            x = x + ((g / (1 + np.exp(-g))) * (h @ W[p + "ffn_up.weight"].T)) @ W[p + "ffn_down.weight"].T
        return rms(x[-1], W["output_norm.weight"]) @ lm.T

    out = []
    fixed = list(range(0, 49152, 1536))[:N_TOP]
    for p, ids in zip(PROMPTS, tok_ids):
        logits = forward(ids)
        seq = list(ids)
        for _ in range(N_GREEDY):
            seq.append(int(np.argmax(forward(seq) if len(seq) > len(ids) else logits)))
        top = list(np.argsort(-logits)[:N_TOP])
        pick = [int(i) for i in top] + [i for i in fixed if i not in top]
        m = logits.max()
        out.append({"prompt": p, "ids": list(ids), "logit_ids": pick, "logits": [float(logits[i]) for i in pick],
                    "logsumexp": float(m + np.log(np.exp(logits - m).sum())), "greedy": seq[len(ids):]})
    return out


def tok_refs(tok, gguf_path):
    corpus = json.load(open(os.path.join(FIX, "tok", "corpus.json")))
    ref = {"transformers": [tok(t, add_special_tokens=False).input_ids for t in corpus]} if tok else {}
    try:
        import llama_cpp
        llm = llama_cpp.Llama(model_path=gguf_path, vocab_only=True, verbose=False)
        ref["llama_cpp"] = [llm.tokenize(t.encode("utf-8"), add_bos=False, special=True) for t in corpus]
    except ImportError:
        print("llama-cpp-python is not installed: only transformers' ids are written")
    return ref


def numpy_main(args, f):
    """Logits and greedy ids from numpy; prompt ids and corpus ids from llama.cpp's tokenizer."""
    try:
        import llama_cpp
        llm = llama_cpp.Llama(model_path=args.gguf, vocab_only=True, verbose=False)
        ids = [llm.tokenize(p.encode(), add_bos=False, special=True) for p in PROMPTS]
    except ImportError:
        if not args.retrace:
            skip("neither llama-cpp-python nor --retrace is there to tokenize the prompts")
        out = subprocess.run([args.retrace, "tokenize", "--tokenizer", args.gguf], input="\n".join(PROMPTS) + "\n",
                             capture_output=True, text=True, check=True).stdout.split("\n")
        ids = [[int(x) for x in line.split()] for line in out[: len(PROMPTS)]]
    meta = {"model": f, "reference": "numpy float64 forward on the GGUF tensors (tools/check_gguf_real.py --numpy)"}
    with open(os.path.join(FIX, "gguf", "smollm2.ref.json"), "w") as fh:
        json.dump({**meta, "prompts": numpy_refs(args.gguf, ids)}, fh)
    print("wrote tests/fixtures/gguf/smollm2.ref.json")
    write_tok(args, {"model": f}, None)


def write_tok(args, meta, tok):
    ref = tok_refs(tok, args.gguf)
    if not ref:
        print("no tokenizer reference (neither transformers nor llama-cpp-python): smollm2.tok.json not written")
        return
    with open(os.path.join(FIX, "gguf", "smollm2.tok.json"), "w") as fh:
        json.dump({**meta, **ref}, fh, separators=(",", ":"))
    print("wrote tests/fixtures/gguf/smollm2.tok.json with", ", ".join(ref))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", default=DEFAULT_GGUF)
    ap.add_argument("--check", help="the test_gguf_real binary to run afterwards")
    ap.add_argument("--retrace", help="retrace binary (tokenizes the prompts for --numpy without llama-cpp-python)")
    ap.add_argument("--numpy", action="store_true", help="without torch: a float64 numpy forward pass as the reference")
    args = ap.parse_args()
    if not os.path.exists(args.gguf):
        skip(f"{args.gguf} is missing (scripts/get-model.sh smollm2-135m-instruct)")
    d, f = os.path.split(os.path.abspath(args.gguf))
    try:
        import torch
        import transformers
    except ImportError as e:
        if not args.numpy:
            skip(f"torch/transformers are not installed ({e}); --numpy uses the numpy reference")
        return numpy_main(args, f)
    tok = transformers.AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = transformers.AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32).eval()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    meta = {"model": f, "transformers": transformers.__version__, "torch": torch.__version__}
    with open(os.path.join(FIX, "gguf", "smollm2.ref.json"), "w") as fh:
        json.dump({**meta, "prompts": model_refs(torch, model, tok)}, fh)
    print("wrote tests/fixtures/gguf/smollm2.ref.json")
    write_tok(args, meta, tok)
    if args.check:
        sys.exit(subprocess.run([args.check]).returncode)


if __name__ == "__main__":
    main()
