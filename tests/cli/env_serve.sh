#!/usr/bin/env bash
# retrace env serve: a built-in world over the exec: protocol. `retrace gen --env exec:"retrace env serve
# household"` writes the same episodes (task, type, steps, outcome, reward) as `--env household` for the
# same seeds: the expert on two splits, and the random policy (partial-credit rewards) with the same
# budget; protocol errors are answered, not fatal. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

same() { # A.jsonl B.jsonl
    python3 - "$1" "$2" <<'PY'
import json, sys
A = [json.loads(l) for l in open(sys.argv[1])]
B = [json.loads(l) for l in open(sys.argv[2])]
assert len(A) == len(B) > 0, (len(A), len(B))
for a, b in zip(A, B):
    for k in ("task", "task_type", "steps", "outcome", "reward"):
        assert a[k] == b[k], (a["id"], k, a[k] if k != "steps" else len(a[k]), b[k] if k != "steps" else len(b[k]))
print(f"{len(A)} episodes equal; {sum(a['outcome'] == 'success' for a in A)} successes, "
      f"{sum(0 < a['reward'] < 1 for a in A)} with partial credit, {sum(len(a['steps']) for a in A)} steps")
PY
}

for split in train unseen; do
    "$bin" gen --env household --split $split --episodes 15 --policy expert --seed 4 -o "$tmp/a.jsonl" >/dev/null 2>&1 &&
        "$bin" gen --env "exec:$bin env serve household --split $split" --episodes 15 --policy expert --seed 4 -o "$tmp/b.jsonl" >/dev/null 2>&1 &&
        same "$tmp/a.jsonl" "$tmp/b.jsonl" && ok || bad "expert, $split split"
done
"$bin" gen --env household --episodes 15 --policy random --seed 4 --max-steps 40 -o "$tmp/a.jsonl" >/dev/null 2>&1 &&
    "$bin" gen --env "exec:$bin env serve household --max-steps 40" --max-steps 40 --episodes 15 --policy random --seed 4 -o "$tmp/b.jsonl" >/dev/null 2>&1 &&
    same "$tmp/a.jsonl" "$tmp/b.jsonl" && python3 -c 'import json,sys; assert any(0 < json.loads(l)["reward"] < 1 for l in open(sys.argv[1]))' "$tmp/a.jsonl" &&
    ok || bad "random policy with a 40-step budget"

# the protocol: errors are replies; the world goes on
printf '{"op":"step","action":"look"}\nnot json\n{"op":"fly"}\n{"op":"reset","seed":-1}\n{"op":"reset","seed":7}\n{"op":"step","action":"look"}\n{"op":"step"}\n' |
    "$bin" env serve household > "$tmp/out.jsonl" && ok || bad "env serve exit status"
python3 - "$tmp/out.jsonl" <<'PY' && ok || bad "protocol replies: $(cat "$tmp/out.jsonl")"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert len(r) == 7, len(r)
assert "before the first reset" in r[0]["error"] and "not a JSON object" in r[1]["error"] and "unknown op" in r[2]["error"], r[:3]
assert "seed" in r[3]["error"] and "action" in r[6]["error"], (r[3], r[6])
assert r[4]["task"] and r[4]["observation"] and r[4]["admissible"] and r[4]["expert"] and r[4]["thought"], r[4]
assert set(r[5]) >= {"observation", "reward", "done", "success", "admissible"} and r[5]["done"] is False, r[5]
PY
"$bin" env serve 2>/dev/null; [ $? -eq 2 ] && ok || bad "no environment: usage error"
"$bin" env serve household --split nope < /dev/null 2>"$tmp/err"; [ $? -ne 0 ] && grep -q nope "$tmp/err" && ok || bad "bad split: $(cat "$tmp/err")"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
