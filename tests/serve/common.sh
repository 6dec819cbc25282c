# common.sh: shared by tests/cli/serve*.sh: a scratch folder ($tmp, removed at exit with any server
# left), a tiny model, a memory of household episodes, and a server started on 127.0.0.1 with a free
# port (SERVE_PID, PORT, URL). Sourced with bin set.
tmp=$(mktemp -d)
SERVE_PID= ADDER=
trap 'kill -9 $SERVE_PID $ADDER 2>/dev/null; rm -rf "$tmp"' EXIT
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
passed=0 failed=0

make_memory() { # DIR
    "$bin" gen --env household --episodes 30 --policy expert --seed 1 -o "$tmp/runs.jsonl" >/dev/null 2>&1 &&
        "$bin" gen --env household --episodes 10 --policy random --seed 7 -o "$tmp/rnd.jsonl" >/dev/null 2>&1 &&
        python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l); e["id"] = "rnd-" + e["id"]; print(json.dumps(e))' "$tmp/rnd.jsonl" > "$tmp/rnd2.jsonl" &&
        "$bin" memory init "$1" >/dev/null 2>&1 && "$bin" memory add "$1" "$tmp/runs.jsonl" >/dev/null 2>&1
}

make_model() { # DIR: a tiny pretrained model with a chat template (chatml)
    OMP_NUM_THREADS=1 "$bin" pretrain --hidden 32 --layers 1 --heads 2 --kv-heads 1 --intermediate 64 --vocab 400 --batch 4 \
        --seq 64 --steps 10 --threads 1 -o "$1" >/dev/null 2>&1
}

start_server() { # ARGS...: starts `retrace serve ARGS --port 0`, waits for its port
    : > "$tmp/serve.err"
    "$bin" serve "$@" --port 0 2>"$tmp/serve.err" &
    SERVE_PID=$!
    for _ in $(seq 100); do
        PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$tmp/serve.err" | grep -o '[0-9]*$')
        [ -n "$PORT" ] && break
        kill -0 $SERVE_PID 2>/dev/null || break
        sleep 0.1
    done
    URL="http://127.0.0.1:$PORT"
    [ -n "$PORT" ]
}

stop_server() { # sends SIGTERM and returns the server's exit status
    kill -TERM $SERVE_PID 2>/dev/null
    wait $SERVE_PID
}
