#!/usr/bin/env bash
# `retrace gen`: same seed -> byte-identical files, other seed -> other file, one-line errors on bad usage,
# no file left behind by a failed run. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
pass=0 failn=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; failn=$((failn + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" gen --env household --episodes 40 --seed 9 --policy noisy -o "$tmp/a.jsonl" >/dev/null || bad "gen failed"
"$bin" gen --env household --episodes 40 --seed 9 --policy noisy -o "$tmp/b.jsonl" >/dev/null || bad "gen failed"
"$bin" gen --env household --episodes 40 --seed 10 --policy noisy -o "$tmp/c.jsonl" >/dev/null || bad "gen failed"
cmp -s "$tmp/a.jsonl" "$tmp/b.jsonl" && ok || bad "same seed gave different files"
cmp -s "$tmp/a.jsonl" "$tmp/c.jsonl" && bad "different seeds gave the same file" || ok
[ "$(wc -l < "$tmp/a.jsonl")" -eq 40 ] && ok || bad "expected 40 lines"
python3 -c "
import json,sys
for l in open(sys.argv[1]):
    e=json.loads(l)
    assert list(e)[:10]==['id','env','task','task_type','split','api_versions','steps','outcome','reward','meta'], list(e)
    assert e['outcome'] in ('success','failure') and 0<=e['reward']<=1
    for s in e['steps']: assert set(s)=={'thought','action','observation'}
" "$tmp/a.jsonl" && ok || bad "episode lines do not follow the format"
out=$("$bin" gen --env household --episodes 30 --seed 1 --split unseen -o "$tmp/u.jsonl") && ok || bad "unseen split failed"
echo "$out" | grep -q "success 100.0%" && ok || bad "expert below 100% on the unseen split: $out"
grep -q '"split":"unseen"' "$tmp/u.jsonl" && ok || bad "split not recorded"

# toolapi: episodes plus the docs of every version, next to the output unless --docs says where.
packs="$(dirname "$0")/../../packs"
"$bin" gen --env toolapi --packs "$packs" --episodes 30 --seed 2 --split unseen -o "$tmp/t1.jsonl" >/dev/null || bad "toolapi gen failed"
"$bin" gen --env toolapi --packs "$packs" --episodes 30 --seed 2 --split unseen -o "$tmp/t2.jsonl" --docs "$tmp/d2.jsonl" >/dev/null || bad "toolapi gen failed"
cmp -s "$tmp/t1.jsonl" "$tmp/t2.jsonl" && ok || bad "toolapi: same seed gave different files"
cmp -s "$tmp/t1.docs.jsonl" "$tmp/d2.jsonl" && ok || bad "toolapi: docs differ or are missing"
python3 -c "
import json,sys
docs=[json.loads(l) for l in open(sys.argv[1])]
assert all(set(d)>={'tool','version','text'} for d in docs)
assert {d['version'] for d in docs}=={1,2}
for l in open(sys.argv[2]):
    e=json.loads(l); assert e['env']=='toolapi' and e['split']=='unseen' and e['api_versions'] and set(e['api_versions'].values())=={2}
" "$tmp/t1.docs.jsonl" "$tmp/t1.jsonl" && ok || bad "toolapi docs or episodes malformed"

check_usage() { # expected exit code, then args
    local want=$1; shift
    local err rc
    err=$("$bin" gen "$@" 2>&1 >/dev/null); rc=$?
    if [ "$rc" -ne "$want" ]; then bad "gen $* exited $rc, wanted $want"; return; fi
    [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && ok || bad "gen $* printed more than one line: $err"
}
check_usage 2 --episodes 3 -o "$tmp/x.jsonl"
check_usage 2 --env household -o "$tmp/x.jsonl"
check_usage 2 --env household --episodes 0 -o "$tmp/x.jsonl"
check_usage 2 --env household --episodes 3 --policy genius -o "$tmp/x.jsonl"
check_usage 2 --env household --episodes 3 --noise 2 -o "$tmp/x.jsonl"
check_usage 2 --env household --episodes 3 --bogus -o "$tmp/x.jsonl"
check_usage 2 --env household --episodes 3 -o
check_usage 1 --env household --episodes 3 --split validation -o "$tmp/x.jsonl"
check_usage 1 --env household --episodes 3 --held-out pick_and_fly -o "$tmp/x.jsonl"
check_usage 1 --env kitchen --episodes 3 -o "$tmp/x.jsonl"
check_usage 1 --env household --episodes 3 -o "$tmp/no/such/dir/x.jsonl"
[ -e "$tmp/x.jsonl" ] && bad "a failed run left a file" || ok
"$bin" gen --help | grep -q "usage: retrace gen" && ok || bad "--help"
echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
