#!/usr/bin/env bash
# retrace serve --model: OpenAI-compatible chat (curl and the official openai client), equal to
# retrace generate for the same prompt and seed; streaming; retrieval. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
here="$(cd "$(dirname "$0")/../serve" && pwd)"
. "$here/common.sh"
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }

make_memory "$tmp/mem" && make_model "$tmp/p" && ok || bad "memory or model"
printf 'test-key\n' > "$tmp/key"
start_server "$tmp/mem" --model "$tmp/p/model" --api-key-file "$tmp/key" --threads 1 && ok || bad "server: $(cat "$tmp/serve.err")"
H=(-H "Authorization: Bearer test-key")

# curl: the completion's text is retrace generate's
want=$("$bin" generate --model "$tmp/p/model" --chat --prompt "put the apple" --max-new 16 --temperature 0.7 --seed 5)
curl -s "${H[@]}" "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"put the apple"}],"max_tokens":16,"temperature":0.7,"seed":5}' > "$tmp/r.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["choices"][0]["message"]["content"] == sys.argv[2], (d, sys.argv[2]); assert d["model"] == "model" and d["adapter"] is None' \
    "$tmp/r.json" "$want" && ok || bad "curl chat != generate: $(cat "$tmp/r.json")"
# top_k 1 is greedy at any temperature: the same text as temperature 0 (and not that of plain sampling).
for r in '"temperature":0' '"temperature":1.5,"top_k":1,"seed":9' '"temperature":1.5,"seed":9'; do
  curl -s "${H[@]}" "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"put the apple"}],"max_tokens":16,'"$r"'}'
  echo
done > "$tmp/k.jsonl"
python3 -c 'import json,sys; t=[json.loads(l)["choices"][0]["message"]["content"] for l in open(sys.argv[1])]; assert t[0] == t[1] != t[2], t' \
    "$tmp/k.jsonl" && ok || bad "top_k 1 != greedy: $(cat "$tmp/k.jsonl")"
[ "$(curl -s -o "$tmp/e.json" -w '%{http_code}' "${H[@]}" "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"x"}],"top_k":-1}')" = 400 ] &&
    grep -q '\$\.top_k' "$tmp/e.json" && ok || bad "bad top_k: $(cat "$tmp/e.json")"
# streaming with curl: data: chunks then data: [DONE]
curl -sN "${H[@]}" "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"put the apple"}],"max_tokens":16,"temperature":0.7,"seed":5,"stream":true}' > "$tmp/s.txt"
python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1]).read().split("\n\n") if l]
assert all(l.startswith("data: ") for l in lines) and lines[-1] == "data: [DONE]", lines[-2:]
text = "".join(json.loads(l[6:])["choices"][0]["delta"].get("content", "") for l in lines[:-1])
assert text == sys.argv[2], (text, sys.argv[2])' "$tmp/s.txt" "$want" && ok || bad "curl stream: $(head -c 600 "$tmp/s.txt")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/models")" = 401 ] && ok || bad "models without key"
[ "$(curl -s -o "$tmp/e.json" -w '%{http_code}' "${H[@]}" "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}')" = 400 ] &&
    grep -q '\$\.temperature' "$tmp/e.json" && ok || bad "bad temperature: $(cat "$tmp/e.json")"
[ "$(curl -s -o "$tmp/e.json" -w '%{http_code}' "${H[@]}" "$URL/v1/chat/completions" -d '{"retrace":{"task":"x","history":[{"action":5}]}}')" = 400 ] &&
    grep -q 'retrace.history\[0\].action' "$tmp/e.json" && ok || bad "bad history: $(cat "$tmp/e.json")"

out=$(python3 "$here/test_openai.py" "$bin" "$tmp/p/model" "$URL" 2>&1); rc=$?
echo "$out" | tail -3
[ $rc -eq 0 ] && ok || bad "openai client"
stop_server && ok || bad "exit status after SIGTERM"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
