#!/usr/bin/env bash
# retrace eval: the agent on household with a tiny pretrained model and a memory of expert episodes;
# results JSON and episode lines; bad input. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

"$bin" pretrain --hidden 32 --layers 1 --heads 2 --kv-heads 1 --intermediate 64 --vocab 400 --batch 4 --seq 64 \
  --steps 10 --threads 1 -o "$tmp/p" >/dev/null 2>&1 && ok || bad "pretrain"
"$bin" gen --env household --episodes 20 --policy expert -o "$tmp/runs.jsonl" >/dev/null 2>&1 &&
  "$bin" memory init "$tmp/mem" >/dev/null 2>&1 && "$bin" memory add "$tmp/mem" "$tmp/runs.jsonl" >/dev/null 2>&1 && ok || bad "memory"

common=(--model "$tmp/p/model" --env household --episodes 3 --max-steps 3 --max-new 16 --budget 600 --threads 1)
out=$("$bin" eval "${common[@]}" --memory "$tmp/mem" -o "$tmp/ev.jsonl" --json "$tmp/ev.json" 2>"$tmp/err")
echo "$out" | grep -q "retrieval dynamic: success [0-3]/3 = .*95% CI" && ok || bad "summary line: $out $(cat "$tmp/err")"
[ "$(wc -l < "$tmp/ev.jsonl")" -eq 3 ] && ok || bad "expected 3 episode lines"
python3 - "$tmp/ev.json" "$tmp/ev.jsonl" "$tmp/runs.jsonl" <<'PY' && ok || bad "results JSON or episodes malformed"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["episodes"] == 3 and 0 <= s["ci_low"] <= s["success_rate"] <= s["ci_high"] <= 1 and s["retrieval"] == "dynamic"
memory = {e["id"]: e for e in map(json.loads, open(sys.argv[3]))}
steps = same = 0
for line in open(sys.argv[2]):
    e = json.loads(line)
    assert e["meta"]["policy"] == "agent" and 1 <= len(e["steps"]) <= 3 and e["outcome"] in ("success", "failure")
    # every step names what it was given: memory episodes, their real task types, best first
    for st in e["steps"]:
        got = st["retrieved"]["successes"]
        assert 1 <= len(got) <= 3 and all(memory[h["id"]]["task_type"] == h["task_type"] for h in got), got
        assert all(memory[h["id"]]["outcome"] == "success" for h in got)
        assert [h["score"] for h in got] == sorted((h["score"] for h in got), reverse=True)
        steps += 1
        same += got[0]["task_type"] == e["task_type"]
assert abs(s["retrieval_same_type"] - same / steps) < 1e-9, (s["retrieval_same_type"], same, steps)
PY
# The same seed gives the same episodes (greedy decoding, seeded worlds).
"$bin" eval "${common[@]}" --memory "$tmp/mem" -o "$tmp/ev2.jsonl" >/dev/null 2>&1 && cmp -s "$tmp/ev.jsonl" "$tmp/ev2.jsonl" && ok || bad "not deterministic"
"$bin" eval "${common[@]}" --memory "$tmp/mem" --static >/dev/null 2>&1 && ok || bad "static retrieval"
"$bin" eval "${common[@]}" --json "$tmp/none.json" | grep -q "retrieval none" &&
  python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["retrieval_same_type"] is None' "$tmp/none.json" &&
  ok || bad "no retrieval"

err=$("$bin" eval "${common[@]}" --env nowhere 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q nowhere && ok || bad "unknown env: rc $rc $err"
err=$("$bin" eval "${common[@]}" --memory "$tmp/nomem" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q nomem && ok || bad "missing memory: rc $rc $err"
err=$("$bin" eval "${common[@]}" --split nosuch 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q nosuch && ok || bad "unknown split: rc $rc $err"

# Invalid outputs keep their raw text in "output" and an empty action; with --no-resample no step is
# resampled, and by default every resampled step is counted in meta.
"$bin" eval "${common[@]}" --max-steps 6 --no-resample -o "$tmp/nr.jsonl" >/dev/null 2>&1 &&
  "$bin" eval "${common[@]}" --max-steps 6 -o "$tmp/rs.jsonl" >/dev/null 2>&1 && ok || bad "eval with and without resampling"
python3 - "$tmp/nr.jsonl" "$tmp/rs.jsonl" <<'PY' && ok || bad "invalid steps or resample counts malformed"
import json, sys
nr = [json.loads(l) for l in open(sys.argv[1])]
rs = [json.loads(l) for l in open(sys.argv[2])]
assert all(e["meta"]["resampled_steps"] == 0 for e in nr)
for e in nr + rs:
    assert 0 <= e["meta"]["resampled_steps"] <= len(e["steps"])
    for s in e["steps"]:
        if s["observation"] == "invalid output: no 'act:' line.":
            assert s["action"] == "" and "output" in s, s
        else:
            assert s["action"] and "output" not in s, s
# without resampling, an action never differs from greedy's, so consecutive repeats can occur; with it,
# a repeat of one of the last two actions only stands when every resample repeated too (counted)
for e in rs:
    acts = [s["action"] for s in e["steps"]]
    reps = sum(1 for i, a in enumerate(acts) if a and a in acts[max(0, i - 2):i])
    assert reps <= e["meta"]["resampled_steps"], (reps, e["meta"])
PY

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
