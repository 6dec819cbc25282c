#!/usr/bin/env bash
# `retrace gen --env exec:CMD` with the Python test environment: a child that dies in some episodes
# fails those episodes (reason in meta) and the run goes on; two runs give the same file; no process
# is left behind. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
toy="$(cd "$(dirname "$0")/../envs" && pwd)/toy_env.py"
pass=0 failn=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; failn=$((failn + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in a b; do
    "$bin" gen --env "exec:python3 $toy --fail die --every 2 --tag rt-cli-exec" --episodes 12 --seed 5 -o "$tmp/$f.jsonl" >/dev/null 2>&1 \
        || bad "gen with a dying child exited non-zero"
done
cmp -s "$tmp/a.jsonl" "$tmp/b.jsonl" && ok || bad "same seed gave different files"
[ "$(wc -l < "$tmp/a.jsonl")" -eq 12 ] && ok || bad "expected 12 episodes"
python3 -c "
import json,sys
eps=[json.loads(l) for l in open(sys.argv[1])]
bad=[e for e in eps if e['outcome']=='failure']
good=[e for e in eps if e['outcome']=='success']
assert bad and good, (len(bad), len(good))
for e in bad: assert e['meta']['seed'] % 2 == 0 and 'exited with status 3' in e['meta']['error'], e['meta']
for e in good: assert e['meta']['seed'] % 2 == 1
" "$tmp/a.jsonl" && ok || bad "failures are not the dying episodes, or lack the reason"
sleep 0.2
pgrep -f "rt-cli-exec" >/dev/null && bad "a child process outlived the run" || ok
"$bin" gen --env "exec:python3 $toy" --policy random --episodes 5 -o "$tmp/r.jsonl" >/dev/null && ok || bad "random policy over exec failed"
echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
