#!/usr/bin/env bash
# retrace serve --retrain-every: the online loop. A tiny model; 12 successful episodes posted with N = 10
# start a round (dataset, train --val in a child); the new adapter beats the base model on the
# validation examples and is swapped in: /v1/models, /healthz and completions name it, and the loss the
# server measured equals the one `retrace train` reported. A second round with a margin no adapter can
# meet is rejected (the adapter in use stays); metrics count both. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
here="$(cd "$(dirname "$0")/../serve" && pwd)"
. "$here/common.sh"
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
export OMP_NUM_THREADS=1

make_model "$tmp/p" && "$bin" memory init "$tmp/mem" >/dev/null 2>&1 && ok || bad "model or memory"
"$bin" gen --env household --episodes 24 --policy expert --seed 3 -o "$tmp/eps.jsonl" >/dev/null 2>&1 && ok || bad "gen"
head -12 "$tmp/eps.jsonl" > "$tmp/a.jsonl" && tail -12 "$tmp/eps.jsonl" > "$tmp/b.jsonl"
targs="--preset tiny --steps 20 --max-len 512 --threads 1"

wait_rounds() { # N: waits (60 s at most) until N rounds have ended
    for _ in $(seq 600); do
        curl -s "$URL/healthz" > "$tmp/h.json"
        python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["retrain"]; sys.exit(0 if r["swaps"]+r["rejections"]+r["failures"] >= int(sys.argv[2]) and not r["running"] else 1)' \
            "$tmp/h.json" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Round 1: swapped in (the first adapter is compared with the base model)
start_server "$tmp/mem" --model "$tmp/p/model" --threads 1 --retrain-every 10 --retrain-dir "$tmp/rt" \
    --retrain-train-args "$targs" --retrain-dataset-args "--budget 400" && ok || bad "server: $(cat "$tmp/serve.err")"
[ "$(curl -s "$URL/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0].get("adapter"))')" = None ] && ok || bad "adapter before"
curl -s "$URL/v1/episodes" --data-binary @"$tmp/a.jsonl" | grep -q '"episodes_added":12' && ok || bad "add"
wait_rounds 1 && ok || bad "round 1 did not end: $(cat "$tmp/h.json")"
python3 - "$tmp/h.json" "$tmp/rt/round-1/out/loss.jsonl" <<'PY' && ok || bad "round 1: $(cat "$tmp/h.json") $(tail -3 "$tmp/serve.err")"
import json, sys
h = json.load(open(sys.argv[1]))
r = h["retrain"]
assert r["rounds"] == 1 and r["swaps"] == 1 and r["rejections"] == 0 and r["failures"] == 0, r
assert h["adapter"] == "retrain-1", h
# the server's own measurement of the new adapter = what retrace train reported on the same file
train_val = [json.loads(l)["val_loss"] for l in open(sys.argv[2]) if "val_loss" in l][-1]
assert abs(r["val_loss"] - train_val) < 1e-3, (r["val_loss"], train_val)
PY
grep -q 'retrain 1: 8 training and 2 validation\|retrain 1: [0-9]* training and [0-9]* validation episodes; validation loss .* (the base model): swapped' "$tmp/serve.err" && ok || bad "log: $(cat "$tmp/serve.err")"
curl -s "$URL/v1/models" | grep -q '"adapter":"retrain-1"' && ok || bad "models after swap"
curl -s "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"put"}],"max_tokens":4,"temperature":0}' | grep -q '"adapter":"retrain-1"' && ok || bad "completion names the adapter"
curl -sN "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"put"}],"max_tokens":4,"stream":true}' > "$tmp/s.txt"
python3 -c 'import json,sys; c=[json.loads(l[6:]) for l in open(sys.argv[1]).read().split("\n\n") if l.startswith("data: {")]; assert c and all(x["adapter"]=="retrain-1" for x in c), c' "$tmp/s.txt" && ok || bad "stream names the adapter"
# the swapped-in model generates as retrace generate does with that adapter
# (generate prints the text and a line end)
"$bin" generate --model "$tmp/p/model" --adapter "$tmp/rt/round-1/out/adapter" --chat --prompt "put the apple" --max-new 8 \
    --temperature 0.8 --seed 3 > "$tmp/want.txt" 2>/dev/null
curl -s "$URL/v1/chat/completions" -d '{"messages":[{"role":"user","content":"put the apple"}],"max_tokens":8,"temperature":0.8,"seed":3}' |
    python3 -c 'import json,sys; d=json.load(sys.stdin); w=open(sys.argv[1]).read(); assert d["choices"][0]["message"]["content"] + "\n" == w, (d, w)' "$tmp/want.txt" &&
    ok || bad "generation after the swap != retrace generate --adapter"
stop_server && ok || bad "exit status"

# Round 2: a margin no adapter can meet: rejected; the adapter in use stays
start_server "$tmp/mem" --model "$tmp/p/model" --adapter "$tmp/rt/round-1/out/adapter" --threads 1 --retrain-every 10 \
    --retrain-dir "$tmp/rt2" --retrain-min-improvement 1000 --retrain-train-args "$targs" --retrain-dataset-args "--budget 400" && ok || bad "server 2"
curl -s "$URL/v1/episodes" --data-binary @"$tmp/a.jsonl" | grep -q '"episodes_unchanged":12' && ok || bad "unchanged add"
curl -s "$URL/healthz" | grep -q '"pending":0' && ok || bad "unchanged episodes counted as new"
curl -s "$URL/v1/episodes" --data-binary @"$tmp/b.jsonl" >/dev/null
wait_rounds 1 && ok || bad "round 2 did not end"
python3 -c 'import json,sys; h=json.load(open(sys.argv[1])); r=h["retrain"]; assert r["rejections"]==1 and r["swaps"]==0 and h["adapter"]=="adapter" and r["val_loss"] > 0, h' "$tmp/h.json" && ok || bad "round 2: $(cat "$tmp/h.json")"
curl -s "$URL/metrics" > "$tmp/m.txt"
grep -q '^retrace_retrain_rounds_total{result="rejected"} 1$' "$tmp/m.txt" && grep -q '^retrace_retrain_rounds_total{result="swapped"} 0$' "$tmp/m.txt" && ok || bad "metrics: $(grep retrain "$tmp/m.txt")"
grep -q 'rejected' "$tmp/serve.err" && ok || bad "log 2"
stop_server && ok || bad "exit status 2"

"$bin" serve "$tmp/mem" --retrain-every 5 2>/dev/null; [ $? -eq 2 ] && ok || bad "--retrain-every without --model"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
