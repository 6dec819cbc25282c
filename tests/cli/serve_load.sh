#!/usr/bin/env bash
# retrace serve under load and faults: 8 clients adding and 8 searching at once; afterwards every
# acknowledged episode is in the store, memory check passes and searches equal the CLI's. Then SIGKILL
# during a stream of adds: after a restart every acknowledged episode is there and nothing partial.
# Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
here="$(cd "$(dirname "$0")/../serve" && pwd)"
. "$here/common.sh"
seconds=${RT_SERVE_LOAD_SECONDS:-4}

make_memory "$tmp/mem" && ok || bad "memory"
start_server "$tmp/mem" --threads 1 && ok || bad "server: $(cat "$tmp/serve.err")"
python3 "$here/load.py" adds-and-searches "$URL" "$tmp/runs.jsonl" "$seconds" "$tmp/acked" "$tmp/searches.json" && ok || bad "load clients"

# the store holds every acknowledged episode; searches on the server equal the CLI's on the same store
python3 - "$bin" "$tmp/mem" "$URL" "$tmp/acked" "$tmp/searches.json" <<'PY' && ok || bad "after the load: store or search disagree"
import json, subprocess, sys, urllib.request
bin_, mem, url, acked, searches = sys.argv[1:6]
stored = {json.loads(l)["id"] for l in subprocess.run([bin_, "memory", "export", mem], capture_output=True, text=True, check=True).stdout.splitlines() if '"steps"' in l}
ack = set(open(acked).read().split())
assert ack <= stored, f"{len(ack - stored)} acknowledged episodes missing, e.g. {sorted(ack - stored)[:3]}"
assert len(stored) == 30 + len(ack), (len(stored), len(ack))
for q in json.load(open(searches))[:8]:
    req = urllib.request.Request(url + "/v1/memory/search", data=json.dumps(q).encode(), method="POST")
    got = json.load(urllib.request.urlopen(req))
    cli = json.loads(subprocess.run([bin_, "memory", "search", mem, q["query"], "-k", str(q["k"]), "--negatives", str(q["negatives"]), "--json"],
                                    capture_output=True, text=True, check=True).stdout)
    assert got == cli, (q, got["hits"][:1], cli["hits"][:1])
PY
stop_server && ok || bad "SIGTERM exit status"
"$bin" memory check "$tmp/mem" >/dev/null && ok || bad "memory check after the load"

# SIGKILL in the middle of adds, then a restart
start_server "$tmp/mem" --threads 1 && ok || bad "restart: $(cat "$tmp/serve.err")"
python3 "$here/load.py" adds "$URL" "$tmp/runs.jsonl" "$tmp/acked-kill" &
ADDER=$!
sleep 1.5
kill -9 $SERVE_PID; wait $SERVE_PID 2>/dev/null
wait $ADDER
n=$(wc -l < "$tmp/acked-kill")
[ "$n" -gt 0 ] && ok || bad "no add was acknowledged before the kill"
start_server "$tmp/mem" --threads 1 && ok || bad "restart after SIGKILL: $(cat "$tmp/serve.err")"
stop_server && ok || bad "SIGTERM exit status after the restart"
"$bin" memory check "$tmp/mem" >/dev/null && ok || bad "memory check after SIGKILL"
python3 - "$bin" "$tmp/mem" "$tmp/acked-kill" "$tmp/runs.jsonl" <<'PY' && ok || bad "after SIGKILL: acknowledged episodes missing or partial ones present"
import json, subprocess, sys
bin_, mem, acked, runs = sys.argv[1:5]
lines = subprocess.run([bin_, "memory", "export", mem], capture_output=True, text=True, check=True).stdout.splitlines()
eps = {e["id"]: e for e in map(json.loads, lines) if "steps" in e}
ack = set(open(acked).read().split())
assert ack <= set(eps), f"missing: {sorted(ack - set(eps))[:3]}"
# anything beyond the acknowledged is a whole episode (a batch committed just before the kill)
base = {json.dumps({k: v for k, v in json.loads(l).items() if k != "id"}, sort_keys=True) for l in open(runs)}
for i, e in eps.items():
    if i.startswith("kill-"):
        assert json.dumps({k: v for k, v in e.items() if k != "id"}, sort_keys=True) in base, i
print(f"{len(ack)} acknowledged before the kill, {sum(i.startswith('kill-') for i in eps)} kill- episodes stored")
PY
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
