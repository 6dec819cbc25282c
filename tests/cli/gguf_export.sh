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

smollm=${RT_SMOLLM_GGUF:-$HOME/.cache/retrace/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf}
out=$(OMP_NUM_THREADS=1 python3 "$root/tools/check_gguf_export.py" --retrace "$bin" --fixtures "$fx" --smollm "$smollm" 2>&1); rc=$?
echo "$out"
if [ $rc -eq 77 ]; then echo "SKIP: the llama.cpp peer check ($(echo "$out" | head -1))"
elif [ $rc -eq 0 ]; then ok
else bad "tools/check_gguf_export.py (rc $rc)"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
