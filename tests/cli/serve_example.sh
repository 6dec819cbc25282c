#!/usr/bin/env bash
# examples/household_agent.py: a few household episodes (the world behind `retrace env serve`, over JSON
# lines) with a tiny model served by retrace serve, retrieval on; each finished episode is posted back
# and is in the store afterwards.
# Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
here="$(cd "$(dirname "$0")/../serve" && pwd)"
example="$(cd "$(dirname "$0")/../../examples" && pwd)/household_agent.py"
. "$here/common.sh"

make_memory "$tmp/mem" && make_model "$tmp/p" && ok || bad "memory or model"
start_server "$tmp/mem" --model "$tmp/p/model" --threads 1 && ok || bad "server: $(cat "$tmp/serve.err")"
# the agent spawns `retrace env serve household` and talks the exec: protocol to it
out=$(timeout 300 python3 "$example" --url "$URL" --retrace "$bin" --episodes 3 --max-steps 3 --max-tokens 16 2>&1); rc=$?
echo "$out" | tail -4
[ $rc -eq 0 ] && echo "$out" | grep -q '^[0-3]/3 successes$' && ok || bad "the example agent failed: $out"
stop_server && ok || bad "SIGTERM exit status"
python3 - "$bin" "$tmp/mem" <<'PY' && ok || bad "the agent's episodes are not in the store, or malformed"
import json, subprocess, sys
lines = subprocess.run([sys.argv[1], "memory", "export", sys.argv[2]], capture_output=True, text=True, check=True).stdout.splitlines()
eps = [e for e in map(json.loads, lines) if e.get("id", "").startswith("example-agent-")]
assert sorted(e["id"] for e in eps) == ["example-agent-1000", "example-agent-1001", "example-agent-1002"], [e["id"] for e in eps]
for e in eps:
    assert len(e["steps"]) <= 3 and e["task"] and e["task_type"] and e["outcome"] in ("success", "failure")
    assert all(s["observation"] for s in e["steps"]), e["steps"]
    got = e["meta"]["retrieved_last_step"]
    assert e["meta"]["end_reason"] == "context_overflow" or (got["successes"] and all(h["outcome"] == "success" for h in got["successes"])), e["meta"]
assert any(e["steps"] for e in eps), "no episode took a step"
PY
"$bin" memory check "$tmp/mem" >/dev/null && ok || bad "memory check"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
