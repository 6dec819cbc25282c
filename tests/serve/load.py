"""Clients for tests/cli/serve_load.sh (standard library only).

  load.py adds-and-searches URL EPISODES.jsonl SECONDS ACKED_OUT SEARCHES_OUT
      8 threads add episodes (new ids, one or a few per request) and 8 search, for SECONDS; the ids
      of every add answered 200 go to ACKED_OUT, the searches (request, reply) to SEARCHES_OUT.
  load.py adds URL EPISODES.jsonl ACKED_OUT
      adds until the server goes away, appending each acknowledged id to ACKED_OUT as soon as the
      200 arrives (fsynced), so a SIGKILL leaves the file exactly what was acknowledged.
"""
import http.client
import json
import os
import random
import sys
import threading
import time
from urllib.parse import urlparse


def conn(url):
    u = urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def post(c, path, body):
    c.request("POST", path, body=body.encode(), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()


def episodes(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def new_batch(base, tag, n, rnd, most):
    """1..most copies of random base episodes under new ids tag-n, tag-n+1, ...; returns (body, next n)."""
    batch = []
    for _ in range(rnd.randint(1, most)):
        e = dict(rnd.choice(base))
        e["id"] = f"{tag}-{n}"
        n += 1
        batch.append(json.dumps(e))
    return "\n".join(batch) + "\n", n


def adder(url, base, tag, deadline, acked, lock, rnd):
    c, n = conn(url), 0
    while time.time() < deadline:
        text, n = new_batch(base, tag, n, rnd, 3)
        status, body = post(c, "/v1/episodes", text)
        assert status == 200, (status, body[:300])
        with lock:
            acked.extend(json.loads(body)["ids"])


def searcher(url, deadline, out, lock, rnd):
    c = conn(url)
    queries = ["put a clean apple in the fridge", "heat a mug", "find two books", "go to the desk", "cool a tomato"]
    while time.time() < deadline:
        req = {"query": rnd.choice(queries), "k": rnd.randint(1, 4), "negatives": rnd.randint(0, 2)}
        status, body = post(c, "/v1/memory/search", json.dumps(req))
        assert status == 200, (status, body[:300])
        d = json.loads(body)
        # every hit whole: an id, a score within its parts
        for h in d["hits"]:
            assert h["id"] and abs(h["score"] - ((1 - h["weight"]) * h["similarity"] + h["weight"] * h["reward"])) < 1e-4, h
        with lock:
            out.append(req)


def adds_and_searches(url, path, seconds, acked_out, searches_out):
    base, lock, acked, searches, errors = episodes(path), threading.Lock(), [], [], []
    deadline = time.time() + float(seconds)

    def guard(f, *a):
        try:
            f(*a)
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(repr(e))

    threads = [threading.Thread(target=guard, args=(adder, url, base, f"conc{i}", deadline, acked, lock, random.Random(i)))
               for i in range(8)]
    threads += [threading.Thread(target=guard, args=(searcher, url, deadline, searches, lock, random.Random(100 + i)))
                for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(acked) > 0 and len(searches) > 0, (len(acked), len(searches))
    open(acked_out, "w").write("\n".join(acked) + "\n")
    json.dump(searches[:20], open(searches_out, "w"))
    print(f"{len(acked)} episodes acknowledged, {len(searches)} searches answered in {seconds} s")


def adds_until_killed(url, path, acked_out):
    base, c, n = episodes(path), conn(url), 0
    fd = os.open(acked_out, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    rnd = random.Random(5)
    while True:
        text, n = new_batch(base, "kill", n, rnd, 4)
        try:
            status, body = post(c, "/v1/episodes", text)
        except (OSError, http.client.HTTPException):
            return
        if status != 200:
            return
        os.write(fd, ("\n".join(json.loads(body)["ids"]) + "\n").encode())
        os.fsync(fd)


if __name__ == "__main__":
    if sys.argv[1] == "adds-and-searches":
        adds_and_searches(*sys.argv[2:7])
    else:
        adds_until_killed(*sys.argv[2:5])
