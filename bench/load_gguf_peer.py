#!/usr/bin/env python3
"""The peer of bench/load_gguf.c: llama.cpp (through llama-cpp-python) loading the same GGUF file,
the way users run it (mmap on: the quantized weights stay in the page cache, nothing is dequantized)
and with mmap off (the file read into memory). Times the Llama(...) constructor only, after one
untimed load (so both sides read a file already in the page cache), and prints one JSON line with the
minimum and median seconds of each mode.

    python3 bench/load_gguf_peer.py MODEL.gguf RUNS THREADS
"""
import json
import statistics
import sys
import time


def main():
    path, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    try:
        import llama_cpp
    except ImportError as e:
        print(json.dumps({"error": f"llama-cpp-python is not installed ({e})"}))
        return
    out = {"llama_cpp": llama_cpp.__version__}
    for mode, mmap in (("mmap", True), ("read", False)):
        times = []
        for i in range(runs + 1):
            t0 = time.perf_counter()
            llm = llama_cpp.Llama(model_path=path, n_ctx=512, n_threads=threads, use_mmap=mmap, verbose=False)
            dt = time.perf_counter() - t0
            del llm
            if i:
                times.append(dt)
        out[mode] = {"min": min(times), "median": statistics.median(times)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
