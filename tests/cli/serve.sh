#!/usr/bin/env bash
# retrace serve with curl: auth, adds acknowledged once committed, search equal to the CLI's, get and
# delete, bad input (huge, truncated, invalid UTF-8, deeply nested, malformed) answered 4xx without
# harm to the server or the store, metrics, and SIGTERM draining a request in flight.
# Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
here="$(cd "$(dirname "$0")/../serve" && pwd)"
. "$here/common.sh"
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }

make_memory "$tmp/mem" && ok || bad "memory"
printf 's3cret-key\n' > "$tmp/key"
start_server "$tmp/mem" --api-key-file "$tmp/key" --max-body 200000 --timeout 3 && ok || bad "server did not start: $(cat "$tmp/serve.err")"
H=(-H "Authorization: Bearer s3cret-key")
code() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }

# auth: none, wrong, a prefix of the right one, right
[ "$(code "$URL/healthz")" = 401 ] && ok || bad "no key: not 401"
[ "$(code -H 'Authorization: Bearer wrong' "$URL/healthz")" = 401 ] && ok || bad "wrong key: not 401"
[ "$(code -H 'Authorization: Bearer s3cret' "$URL/healthz")" = 401 ] && ok || bad "key prefix: not 401"
[ "$(code -XPOST -H 'Authorization: Bearer wrong' --data-binary @"$tmp/rnd2.jsonl" "$URL/v1/episodes")" = 401 ] && ok || bad "add without key: not 401"
[ "$(code "${H[@]}" "$URL/healthz")" = 200 ] && grep -q '"episodes":30' "$tmp/body" && ok || bad "healthz: $(cat "$tmp/body")"

# adds: a JSON-lines batch, acknowledged with its ids; the same again is unchanged; a conflict is 409
[ "$(code "${H[@]}" -XPOST --data-binary @"$tmp/rnd2.jsonl" "$URL/v1/episodes")" = 200 ] &&
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["episodes_added"]==10 and len(d["ids"])==10, d' "$tmp/body" &&
    ok || bad "batch add: $(cat "$tmp/body")"
[ "$(code "${H[@]}" -XPOST --data-binary @"$tmp/rnd2.jsonl" "$URL/v1/episodes")" = 200 ] && grep -q '"episodes_unchanged":10' "$tmp/body" && ok || bad "re-add: $(cat "$tmp/body")"
head -1 "$tmp/rnd2.jsonl" | python3 -c 'import json,sys; e=json.loads(sys.stdin.read()); e["reward"]=0.5; print(json.dumps(e, indent=1))' > "$tmp/changed.json"
[ "$(code "${H[@]}" -XPOST --data-binary @"$tmp/changed.json" "$URL/v1/episodes")" = 409 ] && ok || bad "conflict: not 409: $(cat "$tmp/body")"
[ "$(code "${H[@]}" -XPOST --data-binary @"$tmp/changed.json" "$URL/v1/episodes?replace=true")" = 200 ] && grep -q '"episodes_replaced":1' "$tmp/body" && ok || bad "replace (one pretty-printed object): $(cat "$tmp/body")"
printf '{"tool":"fridge","version":2,"text":"open(fridge) then put(x, fridge)"}\n' > "$tmp/doc.jsonl"
[ "$(code "${H[@]}" -XPOST --data-binary @"$tmp/doc.jsonl" "$URL/v1/docs")" = 200 ] && grep -q '"fridge@2"' "$tmp/body" && ok || bad "doc add: $(cat "$tmp/body")"
[ "$(code "${H[@]}" -XPOST --data-binary @"$tmp/doc.jsonl" "$URL/v1/episodes")" = 400 ] && grep -q 'steps' "$tmp/body" && ok || bad "a doc sent as an episode: $(cat "$tmp/body")"

# search: equal to `retrace memory search --json` (same hits, negatives, scores), filters, episode key
check_search() { # REQUEST_JSON CLI_ARGS...
    local req=$1; shift
    [ "$(code "${H[@]}" -XPOST -d "$req" "$URL/v1/memory/search")" = 200 ] || { echo "search $req: $(cat "$tmp/body")"; return 1; }
    "$bin" memory search "$tmp/mem" "$@" --json > "$tmp/cli.json" || return 1
    python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a == b, (a, b)
assert a["hits"], "no hits"' "$tmp/body" "$tmp/cli.json"
}
check_search '{"query":"put a clean apple in the fridge","k":3,"negatives":2}' "put a clean apple in the fridge" -k 3 --negatives 2 && ok || bad "search != CLI"
check_search '{"query":"clean a mug","k":2,"negatives":1,"weight":0.2,"filters":{"env":"household","task_type":"pick_clean_then_place_in_recep"},"docs":true}' \
    "clean a mug" -k 2 --negatives 1 --weight 0.2 --where env=household --where task_type=pick_clean_then_place_in_recep --docs && ok || bad "filtered search != CLI"
head -1 "$tmp/runs.jsonl" > "$tmp/ep.json"
check_search "{\"episode\": $(cat "$tmp/ep.json"), \"last\": 2, \"k\": 3}" --episode "$tmp/ep.json" --last 2 -k 3 && ok || bad "episode search != CLI"

# get and delete by id
id=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$tmp/runs.jsonl")
[ "$(code "${H[@]}" "$URL/v1/episodes/$id")" = 200 ] && cmp -s <(tr -d '\n' < "$tmp/body") <(head -1 "$tmp/runs.jsonl" | tr -d '\n') && ok || bad "get: not the episode as added"
[ "$(code "${H[@]}" -XDELETE "$URL/v1/episodes/$id")" = 200 ] && ok || bad "delete"
[ "$(code "${H[@]}" "$URL/v1/episodes/$id")" = 404 ] && ok || bad "deleted episode still there"
[ "$(code "${H[@]}" -XDELETE "$URL/v1/episodes/$id")" = 404 ] && ok || bad "second delete not 404"
[ "$(code "${H[@]}" "$URL/v1/nothing")" = 404 ] && [ "$(code "${H[@]}" -XPUT "$URL/v1/episodes")" = 405 ] && ok || bad "unknown route or method"

# bad input: all 4xx, with the JSON path of what is wrong
[ "$(code "${H[@]}" -XPOST -d '{"query":"x","k":"three"}' "$URL/v1/memory/search")" = 400 ] && grep -q '\$\.k' "$tmp/body" && ok || bad "bad k: $(cat "$tmp/body")"
[ "$(code "${H[@]}" -XPOST -d '{"query":"x","filters":{"env":1}}' "$URL/v1/memory/search")" = 400 ] && grep -q '\$\.filters\.env' "$tmp/body" && ok || bad "bad filter: $(cat "$tmp/body")"
[ "$(code "${H[@]}" -XPOST -d '{"query":"x", "k":' "$URL/v1/memory/search")" = 400 ] && grep -q 'line 1 column' "$tmp/body" && ok || bad "malformed JSON"
printf '{"query":"caf\xff\xfe"}' > "$tmp/badutf8"
[ "$(code "${H[@]}" -XPOST --data-binary @"$tmp/badutf8" "$URL/v1/memory/search")" = 400 ] && ok || bad "invalid UTF-8 not 400"
printf '{"id":"u1","env":"e","task":"t\xc3","outcome":"success","reward":1,"steps":[]}\n' > "$tmp/badutf8.jsonl"
[ "$(code "${H[@]}" -XPOST --data-binary @"$tmp/badutf8.jsonl" "$URL/v1/episodes")" = 400 ] && ok || bad "invalid UTF-8 episode not 400"
python3 -c 'print("[" * 30000 + "]" * 30000)' > "$tmp/deep"
[ "$(code "${H[@]}" -XPOST --data-binary @"$tmp/deep" "$URL/v1/memory/search")" = 400 ] && ok || bad "deep nesting not 400"
[ "$(code "${H[@]}" -XPOST --data-binary @"$tmp/deep" "$URL/v1/episodes")" = 400 ] && ok || bad "deep nesting (episodes) not 400"
head -c 300000 /dev/zero | tr '\0' 'a' > "$tmp/huge"
[ "$(code "${H[@]}" -XPOST --data-binary @"$tmp/huge" "$URL/v1/episodes")" = 413 ] && ok || bad "huge body not 413"
[ "$(code "${H[@]}" -XPOST -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/huge" "$URL/v1/episodes")" = 413 ] && ok || bad "huge chunked body not 413"
# a truncated body (the client stops halfway and closes) and a client that stalls past --timeout
python3 - "$PORT" <<'PY' && ok || bad "truncated or stalled bodies"
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/episodes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-key\r\nContent-Length: 1000\r\n\r\n{\"id\": \"tr")
s.close()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/episodes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-key\r\nContent-Length: 1000\r\n\r\n{\"id\"")
s.settimeout(10)
t = time.time()
assert s.recv(100) == b"" and time.time() - t < 9, "a stalled client was not timed out"
PY
[ "$(code "${H[@]}" "$URL/v1/episodes/tr")" = 404 ] && ok || bad "a truncated add left something"
[ "$(code "${H[@]}" -XPOST -d '{"messages":[{"role":"user","content":"hi"}]}' "$URL/v1/chat/completions")" = 404 ] && ok || bad "chat without a model not 404"

# metrics
[ "$(code "${H[@]}" "$URL/metrics")" = 200 ] && grep -q 'retrace_http_requests_total{route="/v1/memory/search",code="200"} 3' "$tmp/body" &&
    grep -q 'retrace_http_requests_total{route="/healthz",code="401"} 3' "$tmp/body" && grep -q '^retrace_memory_episodes 39$' "$tmp/body" &&
    grep -q 'retrace_http_request_duration_seconds_bucket{route="/v1/episodes",le="+Inf"}' "$tmp/body" && ok || bad "metrics: $(head -c 2000 "$tmp/body")"

# SIGTERM while a request is in flight (its body still arriving): it is answered, then the server exits 0
python3 - "$PORT" "$SERVE_PID" "$tmp/rnd2.jsonl" <<'PY' && ok || bad "SIGTERM did not drain the request in flight"
import os, signal, socket, sys, time
port, pid, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
line = open(path).readline().replace('"rnd-', '"drain-').encode()
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/episodes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret-key\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(line))
s.sendall(line[:10])
time.sleep(0.5)
os.kill(pid, signal.SIGTERM)
time.sleep(0.5)
s.sendall(line[10:])
reply = b""
while chunk := s.recv(65536):
    reply += chunk
assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
PY
wait $SERVE_PID; rc=$?
[ $rc -eq 0 ] && ok || bad "server exit status $rc after SIGTERM: $(cat "$tmp/serve.err")"
"$bin" memory check "$tmp/mem" >/dev/null && ok || bad "memory check after the run"
"$bin" memory export "$tmp/mem" | grep -q '"drain-' && ok || bad "the drained add is not in the store"

# bad usage: one line, non-zero
err=$("$bin" serve 2>&1); [ $? -eq 2 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && ok || bad "no memory: $err"
err=$("$bin" serve "$tmp/nomem" --port 0 2>&1); [ $? -eq 1 ] && echo "$err" | grep -q nomem && ok || bad "missing memory: $err"
err=$("$bin" serve "$tmp/mem" --host nowhere 2>&1); [ $? -eq 1 ] && echo "$err" | grep -q nowhere && ok || bad "bad host: $err"
: > "$tmp/emptykey"; err=$("$bin" serve "$tmp/mem" --api-key-file "$tmp/emptykey" 2>&1); [ $? -eq 2 ] && ok || bad "empty key: $err"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
