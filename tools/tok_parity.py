#!/usr/bin/env python3
"""Compares `retrace tokenize` with the `tokenizers` library line by line on any text file (a
developer check beyond the committed fixtures; run it on tools/tok_bench_text.py's output).

    python3 tools/tok_parity.py --retrace build/retrace --tokenizer ../shared/models/tokenizers/qwen3 FILE
    python3 tools/tok_parity.py --retrace build/retrace --tokenizer DIR --codepoints
      (every Unicode scalar value but \n and \r, each between two letters: 1,112,062 lines)
"""
import argparse
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--retrace", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--special", action="store_true")
    ap.add_argument("--max-lines", type=int, default=0)
    ap.add_argument("--codepoints", action="store_true")
    ap.add_argument("file", nargs="?")
    args = ap.parse_args()
    from tokenizers import Tokenizer

    path = args.tokenizer
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    tok = Tokenizer.from_file(path)
    tok.no_padding()
    tok.no_truncation()
    if args.codepoints:
        lines = ["a" + chr(c) + "b" for c in range(0x110000) if not (0xD800 <= c <= 0xDFFF) and c not in (10, 13)]
    else:
        with open(args.file, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
    if args.max_lines:
        lines = lines[: args.max_lines]
    cmd = [args.retrace, "tokenize", "--tokenizer", args.tokenizer] + (["--special"] if args.special else [])
    out = subprocess.run(cmd, input="\n".join(lines).encode() + b"\n", capture_output=True, check=True).stdout.decode()
    got = out.split("\n")[: len(lines)]
    want = tok.encode_batch(lines, add_special_tokens=args.special)
    bad = 0
    for i, (g, w) in enumerate(zip(got, want)):
        wl = " ".join(map(str, w.ids))
        if g != wl:
            bad += 1
            if bad <= 12:
                print(f"line {i + 1}: {lines[i]!r}\n  got  {g}\n  want {wl}")
    print(f"{len(lines)} lines, {bad} differ")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
