#!/usr/bin/env python3
"""Writes a deterministic mixed text of about --mb megabytes for the tokenizer benchmark and parity
checks: Python standard library source (code with indentation), licence and documentation prose
from /usr/share, and the multilingual test corpus (CJK, Arabic, emoji, numbers) with variations.

    python3 tools/tok_bench_text.py -o /tmp/tok_bench.txt --mb 12
"""
import argparse
import glob
import json
import os
import random
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))


def sources():
    stdlib = sysconfig.get_paths()["stdlib"]
    code = sorted(glob.glob(os.path.join(stdlib, "**", "*.py"), recursive=True))
    prose = sorted(glob.glob("/usr/share/common-licenses/*")) + sorted(glob.glob("/usr/share/doc/*/copyright"))
    return code, prose


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (UnicodeDecodeError, OSError):
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--mb", type=float, default=12)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with open(os.path.join(HERE, "..", "tests", "fixtures", "tok", "corpus.json"), encoding="utf-8") as f:
        corpus = [t.replace("\x00", "") for t in json.load(f) if t.strip()]
    code, prose = sources()
    target = int(args.mb * 1024 * 1024)
    parts, size = [], 0
    ci = pi = 0
    while size < target:
        r = rng.random()
        if r < 0.45 and code:
            text = read(code[ci % len(code)])
            ci += 1
        elif r < 0.8 and prose:
            text = read(prose[pi % len(prose)])
            pi += 1
        else:
            lines = [rng.choice(corpus) for _ in range(50)]
            text = "\n".join(l + " " + str(rng.randrange(10**6)) for l in lines) + "\n"
        parts.append(text)
        size += len(text.encode("utf-8"))
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("".join(parts))
    print(f"{args.out}: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
