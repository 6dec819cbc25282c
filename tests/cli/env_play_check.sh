#!/usr/bin/env bash
# `retrace env play` replays a generated episode from its seed and sees the same observations;
# `retrace env check` accepts the shipped packs and lists every problem of a broken one with its JSON
# path. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
packs="$(cd "$(dirname "$0")/../../packs" && pwd)"
pass=0 failn=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; failn=$((failn + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

replay() { # env spec, extra gen args...
    local spec=$1; shift
    "$bin" gen --env "$spec" --episodes 3 --seed 8 "$@" -o "$tmp/g.jsonl" >/dev/null || { bad "gen $spec"; return; }
    for i in 0 1 2; do
        python3 - "$tmp/g.jsonl" "$i" "$tmp" <<'PY'
import json, sys
e = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2])]
d = sys.argv[3]
open(d + "/seed", "w").write(str(e["meta"]["seed"]))
open(d + "/actions", "w").write("".join(s["action"] + "\n" for s in e["steps"]))
open(d + "/expected", "w").write("".join(s["observation"] + "\n" for s in e["steps"]))
PY
        "$bin" env play --env "$spec" --seed "$(cat "$tmp/seed")" "$@" < "$tmp/actions" > "$tmp/out" || { bad "play $spec"; continue; }
        grep -Fxf "$tmp/expected" "$tmp/out" > /dev/null && ok || bad "play $spec did not reproduce the observations"
        # Every expected observation line appears, in order.
        python3 -c "
import sys
out = open(sys.argv[1]).read(); pos = 0
for line in open(sys.argv[2]).read().splitlines():
    at = out.find(line, pos); assert at >= 0, line; pos = at + len(line)
assert '[episode over: success' in out
" "$tmp/out" "$tmp/expected" && ok || bad "play $spec: observations out of order or no success"
    done
}
replay household
replay "$packs/calendar.json" --api-version 2

"$bin" env check "$packs"/*.json > "$tmp/check" && ok || bad "shipped packs fail the check: $(cat "$tmp/check")"
[ "$(grep -c ': ok$' "$tmp/check")" -eq "$(ls "$packs"/*.json | wc -l)" ] && ok || bad "not every pack reported ok"

python3 - "$packs/shop.json" "$tmp/broken.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["tools"][0]["args"][0]["type"] = "str"
p["tasks"][2]["plan"][0]["tool"] = "search_product"
p["versions"][0]["drift"][0]["arg"] = "title"
json.dump(p, open(sys.argv[2], "w"))
PY
"$bin" env check "$tmp/broken.json" > "$tmp/check" 2>&1 && bad "a broken pack passed" || ok
grep -q "broken.json: \$.tools\[0\].args\[0\].type: unknown type 'str'" "$tmp/check" && ok || bad "no path for the bad type: $(cat "$tmp/check")"
grep -q "broken.json: \$.tasks\[2\].plan\[0\]: names no tool 'search_product'" "$tmp/check" && ok || bad "no path for the dangling tool: $(cat "$tmp/check")"
printf '{"domain": ' > "$tmp/trunc.json"
"$bin" env check "$tmp/trunc.json" > "$tmp/check" 2>&1 && bad "truncated JSON passed" || ok
grep -q "trunc.json:1:" "$tmp/check" && ok || bad "truncated JSON: no line number: $(cat "$tmp/check")"
"$bin" env check /nonexistent.json > /dev/null 2>&1 && bad "missing file passed" || ok
"$bin" env bogus > /dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown subcommand is not a usage error"
"$bin" env play > /dev/null 2>&1; [ $? -eq 2 ] && ok || bad "play without --env is not a usage error"
echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
