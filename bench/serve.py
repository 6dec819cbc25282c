#!/usr/bin/env python3
"""bench/serve: `retrace serve` under load, and Chroma's HTTP server on the same vectors as the peer.

    python3 bench/serve.py --retrace build/retrace --load build/bench/bench_serve_load [--episodes 100000]

1. Writes N synthetic household-style episodes (3 steps each) and measures adds in episodes/s: the
   whole file in one POST /v1/episodes (one transaction), and one episode per POST from 8 clients.
2. Searches (POST /v1/memory/search, k=3, no negatives) for random task texts at 1, 8 and 32
   concurrent keep-alive clients (bench_serve_load, C): requests/s, p50, p99.
3. Where chromadb is installed (pip install chromadb): `chroma run` on a fresh folder, the same
   vectors (retrace's own embedding of each episode's task, from `retrace memory embed`), each
   episode's JSON as its document, and the same queries as query_embeddings with n_results 3 (documents
   and distances returned, as retrace returns whole episodes) through Chroma's REST API with the same
   client. Prints the ratios.
Timings depend on the machine; the numbers in docs/BENCHMARKS.md say which.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

OBJECTS = "apple bread book bowl cup fork knife lettuce mug pan plate pot potato spoon tomato vase watch egg keychain pencil".split()
PLACES = "countertop cabinet drawer fridge microwave shelf sinkbasin stoveburner desk bed sidetable diningtable sofa dresser safe garbagecan".split()
VERBS = ["put a clean", "put a hot", "put a cool", "put two", "look at", "find a", "put some", "heat some"]


def episodes(n, seed=1):
    rng = random.Random(seed)
    for i in range(n):
        o, p, v = rng.choice(OBJECTS), rng.choice(PLACES), rng.choice(VERBS)
        ok = rng.random() < 0.7
        steps = [{"thought": f"I look for the {o}.", "action": f"go to {rng.choice(PLACES)} {rng.randint(1, 4)}",
                  "observation": f"You see a {o} {rng.randint(1, 3)}."} for _ in range(3)]
        yield {"id": f"bench-{i:07d}", "env": "household", "task": f"{v} {o} in {p} {rng.randint(1, 9)}.", "task_type": v.split()[-1],
               "outcome": "success" if ok else "failure", "reward": 1.0 if ok else round(rng.random() * 0.5, 4), "steps": steps}


def start(cmd, ready, log):
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=os.setsid)
    for _ in range(600):
        time.sleep(0.1)
        try:
            if ready():
                return p
        except Exception:
            pass
        if p.poll() is not None:
            sys.exit(f"{cmd[0]} exited early; see {log.name}")
    sys.exit(f"{cmd} did not come up")


def stop(p):
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(timeout=120)


def port_of(log_path):
    text = open(log_path).read()
    at = text.find("listening on http://127.0.0.1:")
    return int(text[at + len("listening on http://127.0.0.1:"):].split()[0]) if at >= 0 else None


def load(args, port, path, bodies, clients, seconds, once=False):
    cmd = [args.load, "--port", str(port), "--path", path, "--bodies", bodies, "--clients", str(clients), "--seconds", str(seconds)]
    out = subprocess.run(cmd + (["--once"] if once else []), capture_output=True, text=True)
    r = json.loads(out.stdout)
    if r["errors"]:
        print(f"  ({r['errors']} errors)")
    return r


def serve(args, mem, work, name):
    log = open(os.path.join(work, name + ".log"), "w")
    p = start([args.retrace, "serve", mem, "--port", "0", "--max-body", str(1 << 31), "--max-connections", "1024", "--threads", "1"],
              lambda: port_of(log.name), log)
    return p, port_of(log.name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--retrace", default="build/retrace")
    ap.add_argument("--load", default="build/bench/bench_serve_load")
    ap.add_argument("--episodes", type=int, default=100000)
    ap.add_argument("--small-posts", type=int, default=5000, help="episodes sent one per POST")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--no-chroma", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench_serve_")
    eps = list(episodes(args.episodes))
    with open(os.path.join(work, "eps.jsonl"), "w") as f:
        for e in eps:
            f.write(json.dumps(e) + "\n")
    rng = random.Random(7)
    queries = [e["task"] for e in rng.sample(eps, min(args.queries, len(eps)))]
    with open(os.path.join(work, "search.jsonl"), "w") as f:
        for q in queries:
            f.write(json.dumps({"query": q, "k": 3, "negatives": 0}) + "\n")
    print(f"{len(eps)} episodes, {len(queries)} queries; work folder {work}")

    # adds: one batch
    mem = os.path.join(work, "mem")
    subprocess.run([args.retrace, "memory", "init", mem], check=True, capture_output=True)
    p, port = serve(args, mem, work, "serve")
    body = open(os.path.join(work, "eps.jsonl"), "rb").read()
    t0 = time.time()
    with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v1/episodes", data=body), timeout=3600) as r:
        added = json.load(r)["episodes_added"]
    batch_s = time.time() - t0
    print(f"add, one POST of {added} episodes: {batch_s:.1f} s, {added / batch_s:.0f} episodes/s")

    # search at 1, 8, 32 clients
    rows = {}
    for c in (1, 8, 32):
        r = load(args, port, "/v1/memory/search", os.path.join(work, "search.jsonl"), c, args.seconds)
        rows[c] = r
        print(f"retrace search, {c:2d} clients: {r['rps']:8.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms")
    stop(p)

    # adds: many small posts
    mem2 = os.path.join(work, "mem_small")
    subprocess.run([args.retrace, "memory", "init", mem2], check=True, capture_output=True)
    with open(os.path.join(work, "small.jsonl"), "w") as f:
        for e in eps[:args.small_posts]:
            f.write(json.dumps(e) + "\n")
    p, port = serve(args, mem2, work, "serve_small")
    r = load(args, port, "/v1/episodes", os.path.join(work, "small.jsonl"), 8, 3600, once=True)
    print(f"add, one episode per POST, 8 clients: {r['rps']:.0f} episodes/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms")
    stop(p)

    if not args.no_chroma:
        chroma(args, work, eps, queries, rows)
    shutil.rmtree(work, ignore_errors=True)


def chroma(args, work, eps, queries, rows):
    try:
        import chromadb
    except ImportError:
        print("chroma: not installed (pip install chromadb); no peer numbers")
        return
    chroma_bin = shutil.which("chroma")
    if not chroma_bin:
        print("chroma: the `chroma` command is missing")
        return
    # the same vectors: retrace's embedding of each task (the store's embedder, hash)
    texts = "\n".join(e["task"] for e in eps) + "\n" + "\n".join(queries) + "\n"
    out = subprocess.run([args.retrace, "memory", "embed", "hash", "--stdin"], input=texts, capture_output=True, text=True, check=True)
    vecs = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    vecs = [v["vector"] for v in vecs]
    ev, qv = vecs[:len(eps)], vecs[len(eps):]
    port = 18000 + os.getpid() % 1000
    log = open(os.path.join(work, "chroma.log"), "w")
    p = start([chroma_bin, "run", "--path", os.path.join(work, "chroma"), "--port", str(port)],
              lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status == 200, log)
    try:
        client = chromadb.HttpClient(host="127.0.0.1", port=port)
        col = client.create_collection("bench", metadata={"hnsw:space": "cosine"})
        t0 = time.time()
        for i in range(0, len(eps), 5000):
            part = eps[i:i + 5000]
            col.add(ids=[e["id"] for e in part], embeddings=ev[i:i + 5000], documents=[json.dumps(e) for e in part],
                    metadatas=[{"env": e["env"], "outcome": e["outcome"]} for e in part])
        add_s = time.time() - t0
        print(f"chroma add (batches of 5000): {len(eps) / add_s:.0f} episodes/s")
        path = f"/api/v2/tenants/default_tenant/databases/default_database/collections/{col.id}/query"
        with open(os.path.join(work, "chroma_q.jsonl"), "w") as f:
            for v in qv:
                f.write(json.dumps({"query_embeddings": [v], "n_results": 3, "include": ["documents", "distances"]}) + "\n")
        for c in (1, 8, 32):
            r = load(args, port, path, os.path.join(work, "chroma_q.jsonl"), c, args.seconds)
            print(f"chroma search,  {c:2d} clients: {r['rps']:8.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms"
                  f"   retrace/chroma throughput {rows[c]['rps'] / max(r['rps'], 1e-9):.2f}x")
    finally:
        stop(p)


if __name__ == "__main__":
    main()
