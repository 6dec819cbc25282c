#!/usr/bin/env bash
# retrace bench --quick: the whole chain (gen, memory, pretrain, dataset, train, eval) at a tiny scale;
# every configuration and split gets a result with a valid interval. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! "$bin" bench --quick -o "$tmp/b" > "$tmp/log" 2>&1; then
  tail -20 "$tmp/log"; echo "0 passed, 1 failed"; exit 1
fi
python3 - "$tmp/b/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n = 0
for c in "abcde":
    for s in ("train", "unseen_task"):
        x = r[c][s]
        assert x["episodes"] == 3 and 0 <= x["ci_low"] <= x["success_rate"] <= x["ci_high"] <= 1, (c, s, x)
        assert x["split"] == s
        n += 1
assert r["a"]["train"]["retrieval"] == "none" and r["e"]["train"]["retrieval"] == "dynamic"
assert r["d"]["unseen_task"]["retrieval"] == "static" and r["c"]["train"]["adapter"].endswith("c/adapter")
print(f"{n} passed, 0 failed")
PY
