#!/usr/bin/env bash
# `retrace gen`: same seed -> byte-identical files, other seed -> other file, slips marked, toolapi
# versions by split, one-line errors on bad usage, no file left behind by a failed run. Args: RETRACE_BIN FIXTURES_DIR
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
    for i, s in enumerate(e['steps']):
        assert set(s) - {'slip'} == {'thought','action','observation'} and s.get('slip', True) is True
        if s.get('slip'): assert s['observation'] == 'Nothing happens.' and not e['steps'][i + 1].get('slip')
    assert e['meta']['slips'] == sum(1 for s in e['steps'] if s.get('slip'))
assert sum(e['meta']['slips'] for e in map(json.loads, open(sys.argv[1]))) > 0
" "$tmp/a.jsonl" && ok || bad "episode lines do not follow the format (or slips are not marked)"
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
assert {d['version'] for d in docs}=={1,2,3}
for l in open(sys.argv[2]):
    e=json.loads(l); assert e['env']=='toolapi' and e['split']=='unseen' and e['api_versions'] and set(e['api_versions'].values())=={3}
" "$tmp/t1.docs.jsonl" "$tmp/t1.jsonl" && ok || bad "toolapi docs or episodes malformed"
# Training episodes span versions 1 and 2 (never the held-out 3); noisy ones are byte-identical per seed.
"$bin" gen --env toolapi --packs "$packs" --episodes 60 --seed 4 --policy noisy --noise 0.5 -o "$tmp/n1.jsonl" >/dev/null || bad "toolapi gen failed"
"$bin" gen --env toolapi --packs "$packs" --episodes 60 --seed 4 --policy noisy --noise 0.5 -o "$tmp/n2.jsonl" >/dev/null || bad "toolapi gen failed"
cmp -s "$tmp/n1.jsonl" "$tmp/n2.jsonl" && ok || bad "toolapi noisy: same seed gave different files"
python3 -c "
import json,sys
eps=[json.loads(l) for l in open(sys.argv[1])]
assert {e['meta']['api_version'] for e in eps}=={1,2}
assert all(set(e['api_versions'].values())=={e['meta']['api_version']} for e in eps)
assert any(s.get('slip') for e in eps for s in e['steps'])
" "$tmp/n1.jsonl" && ok || bad "toolapi train episodes should span versions 1 and 2 and mark slips"

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
