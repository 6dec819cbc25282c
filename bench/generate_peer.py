#!/usr/bin/env python3
"""generate_peer.py: llama.cpp's prefill and decode speed (through llama-cpp-python) for bench_generate.

Reads the prompt ids (one per line), evaluates the first --prompt of them into a fresh context (prefill),
then the next --decode one at a time (decode), best of two runs, and prints
"RESULT prefill_tps=... decode_tps=...". Run by bench_generate; needs llama-cpp-python.
"""
import argparse
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=1200)
    ap.add_argument("--decode", type=int, default=64)
    a = ap.parse_args()
    try:
        import llama_cpp
    except ImportError:
        print("generate_peer: llama-cpp-python is not installed", file=sys.stderr)
        return 1
    ids = [int(x) for x in open(a.ids).read().split()]
    prompt, rest = ids[: a.prompt], ids[a.prompt : a.prompt + a.decode]
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(model_path=a.gguf, n_ctx=a.prompt + a.decode + 8, n_threads=a.threads,
                          n_threads_batch=a.threads, n_batch=512, verbose=False)
    load_s = time.perf_counter() - t0
    best_p = best_d = 0.0
    for _ in range(2):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt)
        t1 = time.perf_counter()
        for tok in rest:
            llm.eval([tok])
        t2 = time.perf_counter()
        best_p = max(best_p, len(prompt) / (t1 - t0))
        best_d = max(best_d, len(rest) / (t2 - t1))
    print(f"llama.cpp {llama_cpp.__version__}: load {load_s:.2f} s", file=sys.stderr)
    print(f"RESULT prefill_tps={best_p:.2f} decode_tps={best_d:.2f} load_s={load_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
