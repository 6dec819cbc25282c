#!/usr/bin/env bash
# retrace export --gguf: usage and bad input here; the files themselves are checked by
# tools/check_gguf_export.py against the `gguf` package and llama.cpp (llama-cpp-python), which runs
# when those are installed (else SKIP with the reason) and, when the SmolLM2 GGUF is cached and retrace
# loads .gguf files, on the real model too. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fx=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

m="$fx/models/llama/model"
"$bin" export --help | grep -q -- "--gguf OUT.gguf" && ok || bad "--help"
err=$("$bin" export --model "$m" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q -- "--gguf OUT.gguf is required" && ok || bad "missing --gguf: rc $rc $err"
err=$("$bin" export --gguf "$tmp/x.gguf" --model "$m" --type q4_k 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "unknown GGUF tensor type 'q4_k'" && ok || bad "bad --type: rc $rc $err"
err=$("$bin" export --gguf "$tmp/x.gguf" --model "$m" --merge 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q -- "--merge needs --adapter" && ok || bad "--merge alone: rc $rc $err"
err=$("$bin" export --gguf "$tmp/x.gguf" --model "$tmp/none" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "$tmp/none" && [ ! -e "$tmp/x.gguf" ] && ok || bad "missing model: rc $rc $err"
# A model folder without a tokenizer is written with a warning; a named tokenizer folder must have one.
"$bin" export --gguf "$tmp/x.gguf" --model "$m" 2>"$tmp/err" >/dev/null && grep -q "no tokenizer.json" "$tmp/err" &&
  [ -s "$tmp/x.gguf" ] && [ "$(head -c 4 "$tmp/x.gguf")" = GGUF ] && ok || bad "model without tokenizer: $(cat "$tmp/err")"
err=$("$bin" export --gguf "$tmp/y.gguf" --model "$m" --tokenizer "$tmp" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "$tmp/tokenizer.json" && ok || bad "--tokenizer without tokenizer.json: rc $rc $err"
# A SentencePiece-style tokenizer (byte fallback) is refused, naming the file.
if [ -d "$root/../shared/models/tokenizers/mistral" ]; then
  err=$("$bin" export --gguf "$tmp/y.gguf" --model "$m" --tokenizer "$root/../shared/models/tokenizers/mistral" 2>&1); rc=$?
  [ $rc -eq 1 ] && echo "$err" | grep -q "only byte-level BPE" && ok || bad "mistral tokenizer: rc $rc $err"
fi
# An adapter whose shapes disagree with the base is refused, naming the tensor, and nothing is written.
cp -r "$fx/models/llama/adapter" "$tmp/ad"
sed -i 's/"r": 8/"r": 4/' "$tmp/ad/adapter_config.json"
err=$("$bin" export --gguf "$tmp/z.gguf" --model "$m" --adapter "$tmp/ad" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "lora_A.weight" && [ ! -e "$tmp/z.gguf" ] && ok || bad "adapter of another rank: rc $rc $err"

# Round trip through retrace's own GGUF reader (written independently, from llama.cpp's layout): the
# Q/K permutation written must be the one the reader undoes, so F32 logits come back bit for bit.
logits_diff() { # A.safetensors B.safetensors -> "max|a-b| max|a|"
  python3 - "$1" "$2" <<'PY'
import array, json, struct, sys
def logits(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    o, e = h["logits"]["data_offsets"]; a = array.array("f"); a.frombytes(b[8 + n + o:8 + n + e]); return a
a, b = logits(sys.argv[1]), logits(sys.argv[2])
print(max(abs(x - y) for x, y in zip(a, b)), max(abs(x) for x in a))
PY
}
prompt="the quick brown fox jumps over the lazy dog; think: act: obs: hello world 42"
for i in $(seq 1 100); do echo "$prompt $i: pick up the apple, put it in the fridge"; done > "$tmp/corpus.txt"
for fam in tied qwen2; do
  cp -r "$fx/models/$fam/model" "$tmp/$fam"
  "$bin" tokenizer-train --vocab 300 -o "$tmp/$fam" "$tmp/corpus.txt" >/dev/null 2>&1
  "$bin" generate --model "$tmp/$fam" --prompt "$prompt" --dump-logits "$tmp/ref.st" >/dev/null || bad "$fam: dump"
  for t in f32 q8_0; do
    "$bin" export --gguf "$tmp/$fam-$t.gguf" --model "$tmp/$fam" --type $t >/dev/null 2>&1 &&
      "$bin" generate --model "$tmp/$fam-$t.gguf" --tokenizer "$tmp/$fam" --prompt "$prompt" --dump-logits "$tmp/got.st" >/dev/null ||
      bad "$fam $t: export or reload"
    d=$(logits_diff "$tmp/ref.st" "$tmp/got.st")
    echo "$fam $t round trip: max |diff| $d (max |logit|)"
    tol=$([ $t = f32 ] && echo 0 || echo 0.02)
    echo "$d" | awk -v tol=$tol '{ exit !($1 <= tol * $2) }' && ok || bad "$fam $t round trip: $d"
  done
done

smollm=${RT_SMOLLM_GGUF:-$HOME/.cache/retrace/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf}
out=$(OMP_NUM_THREADS=1 python3 "$root/tools/check_gguf_export.py" --retrace "$bin" --fixtures "$fx" --smollm "$smollm" 2>&1); rc=$?
echo "$out"
if [ $rc -eq 77 ]; then echo "SKIP: the gguf-package and llama.cpp checks ($(echo "$out" | head -1))"
elif [ $rc -eq 0 ]; then ok
else bad "tools/check_gguf_export.py (rc $rc)"
fi

# Without the Python check (which compares SmolLM2's F32 export with gguf.quants.dequantize and
# llama.cpp): the Q4_1 file, dequantized by retrace and written as F32 with its tokenizer metadata
# copied, reloads to the same logits bit for bit (the ids of the small tokenizer are valid SmolLM2 ids).
if [ $rc -eq 77 ] && [ -f "$smollm" ]; then
  "$bin" export --gguf "$tmp/smol.gguf" --model "$smollm" >/dev/null && ok || bad "smollm2 export"
  "$bin" generate --model "$smollm" --tokenizer "$tmp/tied" --prompt "$prompt" --dump-logits "$tmp/ref.st" >/dev/null &&
    "$bin" generate --model "$tmp/smol.gguf" --tokenizer "$tmp/tied" --prompt "$prompt" --dump-logits "$tmp/got.st" >/dev/null ||
    bad "smollm2 dumps"
  d=$(logits_diff "$tmp/ref.st" "$tmp/got.st")
  echo "smollm2 f32 round trip: max |diff| $d (max |logit|)"
  echo "$d" | awk '{ exit !($1 == 0) }' && ok || bad "smollm2 round trip: $d"
  rm -f "$tmp/smol.gguf"
elif [ ! -f "$smollm" ]; then
  echo "SKIP: $smollm not found (scripts/get-model.sh smollm2-135m-instruct)"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
