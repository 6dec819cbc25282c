#!/usr/bin/env bash
# retrace demo --quick = retrace bench --quick: the whole chain (gen, memory, pretrain, dataset, train,
# eval, report) at a toy scale; every configuration and split gets a result with a valid interval, the
# table is printed and the report written. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! "$bin" demo --quick -o "$tmp/b" > "$tmp/log" 2>&1; then
  tail -20 "$tmp/log"; echo "0 passed, 1 failed"; exit 1
fi
python3 - "$tmp/b" "$tmp/log" <<'PY'
import json, os, sys
d, log = sys.argv[1], open(sys.argv[2]).read()
r = json.load(open(os.path.join(d, "results.json")))
n = 0
assert [c["id"] for c in r["configs"]] == list("abcde")
assert [s["id"] for s in r["splits"]] == ["train", "unseen_task", "api_train", "unseen_api"]
for c in "abcde":
    for s, env, split in (("train", "household", "train"), ("unseen_task", "household", "unseen_task"),
                          ("api_train", "toolapi", "train"), ("unseen_api", "toolapi", "unseen_api")):
        x = r["cells"][c][s]
        assert x["episodes"] == 2 and 0 <= x["ci_low"] <= x["success_rate"] <= x["ci_high"] <= 1, (c, s, x)
        assert x["split"] == split and x["env"] == env, (c, s, x)
        eps = [json.loads(l) for l in open(os.path.join(d, f"episodes_{c}_{s}.jsonl"))]
        assert len(eps) == 2 and all(e["env"] == env for e in eps)
        n += 1
cells = r["cells"]
for c in "abcde":  # retrieval quality: a share where the prompt had retrieved episodes, null where none
    for s in cells[c]:
        q = cells[c][s]["retrieval_same_type"]
        assert (q is None) if c in "ac" else (0 <= q <= 1), (c, s, q)
assert cells["a"]["train"]["retrieval"] == "none" and cells["e"]["train"]["retrieval"] == "dynamic"
assert cells["d"]["unseen_task"]["retrieval"] == "static" and cells["c"]["train"]["adapter"].endswith("c/adapter")
for name, f in r["loss_logs"].items():
    assert os.path.getsize(os.path.join(d, f)) > 0, name
for c in "cde":  # each adapter's training reports a validation loss
    assert any("val_loss" in l for l in open(os.path.join(d, c, "loss.jsonl"))), c
assert "(e) retrace" in log and "drifted APIs" in log and "report.html" in log
html = open(os.path.join(d, "report.html")).read()
assert html.count("<svg") >= 2 and "retrace (dynamic, reward, negatives)" in html
print(f"{n + 1} passed, 0 failed")
PY
[ $? -eq 0 ] || exit 1
# The scale overrides are checked before anything runs.
err=$("$bin" bench --eval-episodes 0 -o "$tmp/x" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "eval-episodes must be at least 1" && [ ! -e "$tmp/x" ] || { echo "FAIL: --eval-episodes 0: rc $rc $err"; echo "0 passed, 1 failed"; exit 1; }
# --base: the chain on a given base model (here the one just pretrained), linked, not pretrained again.
if "$bin" bench --quick --base "$tmp/b/base/model" -o "$tmp/c" > "$tmp/log2" 2>&1 && [ -L "$tmp/c/base/model" ] &&
   python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert "base (pretraining)" not in r["loss_logs"] and r["cells"]["e"]["unseen_api"]["episodes"] == 2' "$tmp/c/results.json" &&
   ! grep -q '^\$ retrace pretrain' "$tmp/log2"; then :; else tail -5 "$tmp/log2"; echo "FAIL: --base"; echo "0 passed, 1 failed"; exit 1; fi
# --embedder: the memory made with a BERT model folder (the tiny fixture), used by every retrieval.
if "$bin" bench --quick --base "$tmp/b/base/model" --embedder "$2/bert/tiny-bert" -o "$tmp/m" > "$tmp/log3" 2>&1 &&
   "$bin" memory stats "$tmp/m/mem" --json | grep -q '"bert-v1:' &&
   python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert 0 <= r["cells"]["e"]["train"]["retrieval_same_type"] <= 1' "$tmp/m/results.json"; then :
else tail -5 "$tmp/log3"; echo "FAIL: --embedder"; echo "0 passed, 1 failed"; exit 1; fi
err=$("$bin" bench --quick --base "$tmp/nowhere" -o "$tmp/d" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "nowhere: not a model folder" || { echo "FAIL: --base nowhere: rc $rc $err"; echo "0 passed, 1 failed"; exit 1; }
err=$("$bin" bench --quick --base "$tmp/b/base/model" -o "$tmp/b" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "already holds a model" || { echo "FAIL: --base over a pretrained model: rc $rc $err"; echo "0 passed, 1 failed"; exit 1; }
