#!/usr/bin/env bash
# retrace dataset: RAFT-style examples from episodes and a memory; one per step of each successful
# episode, never the episode itself in its own context, deterministic, trainable. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fx=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
tok=$fx/tok/models/trained-chatml

"$bin" gen --env household --episodes 12 --policy expert -o "$tmp/ok.jsonl" >/dev/null 2>&1 &&
"$bin" gen --env household --episodes 8 --policy noisy --noise 1 --seed 2 -o "$tmp/noisy.jsonl" >/dev/null 2>&1 &&
"$bin" memory init "$tmp/mem" >/dev/null 2>&1 && "$bin" memory add "$tmp/mem" "$tmp/ok.jsonl" "$tmp/noisy.jsonl" >/dev/null 2>&1 &&
  ok || bad "setup"
cat "$tmp/ok.jsonl" "$tmp/noisy.jsonl" > "$tmp/all.jsonl"

"$bin" dataset "$tmp/mem" --from "$tmp/all.jsonl" --tokenizer "$tok" --exclude-same-task --budget 2000 -o "$tmp/sft.jsonl" >/dev/null 2>&1 && ok || bad "dataset"
python3 - "$tmp/all.jsonl" "$tmp/sft.jsonl" <<'PY' && ok || bad "examples do not match the episodes"
import json, sys
eps = [json.loads(l) for l in open(sys.argv[1])]
want = sum(len(e["steps"]) for e in eps if e["outcome"] == "success")
exs = [json.loads(l) for l in open(sys.argv[2])]
assert len(exs) == want, (len(exs), want)
byid = {e["id"]: e for e in eps}
for x in exs:
    ep_id, i = x["id"].rsplit("#", 1)
    e, i = byid[ep_id], int(i)
    s = e["steps"][i]
    assert x["completion"] == f"think: {s['thought']}\nact: {s['action']}\n", x["completion"]
    context, own = x["prompt"].split("## your task\n")
    # the episode's own task never appears among the retrieved episodes (--exclude-same-task)
    assert f"task: {e['task']}\n" not in context
    assert own.startswith(f"task: {e['task']}\nobs: ")
    # the history holds exactly the steps before this one (those the budget hid are counted)
    hidden = int(own.split(" earlier steps not shown")[0].rsplit("(", 1)[1]) if "earlier steps not shown" in own else 0
    assert own.count("\nact: ") + hidden == i
PY
"$bin" dataset "$tmp/mem" --from "$tmp/all.jsonl" --tokenizer "$tok" --exclude-same-task --budget 2000 -o "$tmp/sft2.jsonl" >/dev/null 2>&1 &&
  cmp -s "$tmp/sft.jsonl" "$tmp/sft2.jsonl" && ok || bad "not deterministic"
"$bin" dataset "$tmp/mem" --from "$tmp/ok.jsonl" --tokenizer "$tok" --p-useful 0 -o "$tmp/d0.jsonl" >/dev/null 2>&1 &&
  ! grep -q '"useful": true\|"useful":true' "$tmp/d0.jsonl" && ok || bad "p-useful 0"
"$bin" dataset --no-retrieval --from "$tmp/ok.jsonl" --tokenizer "$tok" -o "$tmp/plain.jsonl" >/dev/null 2>&1 &&
  ! grep -q "## successful" "$tmp/plain.jsonl" && ok || bad "no-retrieval"
"$bin" dataset "$tmp/mem" --from "$tmp/ok.jsonl" --tokenizer "$tok" --budget 200 -o "$tmp/small.jsonl" 2>&1 |
  grep -q "parts cut to fit 200 tokens" && ok || bad "budget cuts not reported"

# With room for everything, every example shows mined failures (the noisy episodes).
"$bin" dataset "$tmp/mem" --from "$tmp/ok.jsonl" --tokenizer "$tok" --budget 100000 -o "$tmp/big.jsonl" >/dev/null 2>&1 &&
  [ "$(grep -c 'failed episodes: avoid' "$tmp/big.jsonl")" -eq "$(wc -l < "$tmp/big.jsonl")" ] && ok || bad "negatives missing"

# Tool versions: examples from v1 episodes are given v1 experience and v1 docs only, though the memory
# also holds the drifted v2 episodes and docs; --any-version lets v2 (the newest docs) in.
"$bin" gen --env toolapi --api-version 1 --episodes 30 -o "$tmp/v1.jsonl" --docs "$tmp/docs.jsonl" >/dev/null 2>&1 &&
"$bin" gen --env toolapi --api-version 2 --episodes 30 --seed 2 -o "$tmp/v2.jsonl" >/dev/null 2>&1 &&
"$bin" gen --env toolapi --api-version 1 --episodes 8 --seed 3 -o "$tmp/q.jsonl" >/dev/null 2>&1 &&
"$bin" memory init "$tmp/tmem" >/dev/null 2>&1 && "$bin" memory add "$tmp/tmem" "$tmp/v1.jsonl" "$tmp/v2.jsonl" "$tmp/docs.jsonl" >/dev/null 2>&1 &&
"$bin" dataset "$tmp/tmem" --from "$tmp/q.jsonl" --tokenizer "$tok" --retrieve 2 --budget 100000 -o "$tmp/pinned.jsonl" >/dev/null 2>&1 &&
"$bin" dataset "$tmp/tmem" --from "$tmp/q.jsonl" --tokenizer "$tok" --retrieve 2 --budget 100000 --any-version -o "$tmp/any.jsonl" >/dev/null 2>&1 &&
  ok || bad "toolapi datasets"
python3 - "$tmp/pinned.jsonl" "$tmp/any.jsonl" <<'PY' && ok || bad "tool versions in the examples"
import json, re, sys
def parts(line):
    p = json.loads(line)["prompt"]
    context, own = p.split("## your task\n")
    pack = re.search(r"Tools \((\w+) API v1\)", own).group(1)  # the episode's own pack, at v1
    docs = context.split("## documentation\n")[1] if "## documentation\n" in context else ""
    return pack, context, docs
pinned = [parts(l) for l in open(sys.argv[1])]
anyv = [parts(l) for l in open(sys.argv[2])]
# docs only at v1; retrieved episodes of the episode's own tools only at v1
assert pinned and all(" API v1)" in d and " API v2)" not in d for _, _, d in pinned)
assert not any(f"Tools ({k} API v2)" in c for k, c, _ in pinned)
# without the pin the drifted v2 experience and the newest docs come in
assert any(" API v2)" in d for _, _, d in anyv) and any(f"Tools ({k} API v2)" in c for k, c, _ in anyv)
PY

err=$("$bin" dataset "$tmp/mem" --from "$tmp/none.jsonl" --tokenizer "$tok" -o "$tmp/x.jsonl" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "none.jsonl" && [ ! -e "$tmp/x.jsonl" ] && ok || bad "missing input: rc $rc $err"
printf '{"id": "x", "task": "t", "outcome": "success", "steps": []}\nnot json\n' > "$tmp/badline.jsonl"
err=$("$bin" dataset "$tmp/mem" --from "$tmp/badline.jsonl" --tokenizer "$tok" -o "$tmp/x.jsonl" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "badline.jsonl:2" && [ ! -e "$tmp/x.jsonl" ] && ok || bad "bad line: rc $rc $err"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
