#!/usr/bin/env python3
"""The peer of bench/tokenize.c: encodes the same lines with the `tokenizers` library (the reference
retrace matches), single-threaded and as a parallel batch, and prints one JSON line with MB/s, the
token count and an FNV-1a checksum of all ids (so the C side can say whether the ids agree).

    python3 bench/tokenize_peer.py TOKENIZER_DIR_OR_FILE TEXT_FILE
"""
import json
import os
import sys
import time


def main():
    path, text_path = sys.argv[1], sys.argv[2]
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    with open(text_path, "rb") as f:
        raw = f.read()
    lines = raw.decode("utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    mb = len(raw) / 1e6

    # Single thread: the batch API with parallelism off, so no Python call per line is timed.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    tok.no_padding()
    tok.no_truncation()
    t0 = time.perf_counter()
    enc = tok.encode_batch(lines, add_special_tokens=False)
    single = time.perf_counter() - t0

    h = 0xCBF29CE484222325
    n = 0
    for e in enc:
        for i in e.ids:
            for b in i.to_bytes(4, "little"):
                h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
            n += 1
    del enc

    # Parallel batch in a fresh process, since the parallelism setting is read once per process.
    import subprocess

    code = (
        "import sys,time;from tokenizers import Tokenizer;t=Tokenizer.from_file(sys.argv[1]);"
        "t.no_padding();t.no_truncation();"
        "l=open(sys.argv[2],'rb').read().decode('utf-8','replace').split('\\n');"
        "l=l[:-1] if l and l[-1]=='' else l;"
        "s=time.perf_counter();t.encode_batch(l,add_special_tokens=False);print(time.perf_counter()-s)"
    )
    env = dict(os.environ, TOKENIZERS_PARALLELISM="true")
    out = subprocess.run([sys.executable, "-c", code, path, text_path], env=env, capture_output=True, text=True, check=True)
    batch = float(out.stdout.strip().splitlines()[-1])
    print(json.dumps({"single_mbps": mb / single, "batch_mbps": mb / batch, "threads": os.cpu_count(),
                      "n_tokens": n, "checksum": f"{h:016x}"}))


if __name__ == "__main__":
    main()
