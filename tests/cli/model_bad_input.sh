#!/usr/bin/env bash
# Bad checkpoints and adapters: each gives exit 1 and ONE line on stderr naming the file and the
# tensor or key; good ones load. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fx=$2/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# expect_error NAME PATTERN... -- CMD...: exit status 1, exactly one stderr line, matching every pattern.
expect_error() {
  local name=$1; shift
  local patterns=()
  while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  shift
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  local ok=1
  [ $rc -eq 1 ] || ok=0
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || ok=0
  for p in "${patterns[@]}"; do printf '%s' "$err" | grep -qF -- "$p" || ok=0; done
  if [ $ok -eq 1 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $name (rc $rc): $err"; fi
}

# A safetensors file from a header (JSON) and a number of data bytes.
make_st() {
  local out=$1 header=$2 nbytes=$3
  python3 - "$out" "$header" "$nbytes" <<'PY'
import struct, sys
out, header, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
with open(out, "wb") as f:
    f.write(struct.pack("<Q", len(header))); f.write(header); f.write(b"\0" * n)
PY
}

copy_model() { rm -rf "$tmp/$1"; cp -r "$fx/llama/model" "$tmp/$1"; }

# good model and adapter
if "$bin" inspect "$fx/llama/model" --adapter "$fx/llama/adapter" | grep -q "rsLoRA scale 5.65685"; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL good model/adapter"; fi

copy_model trunc
head -c 5000 "$fx/llama/model/model.safetensors" > "$tmp/trunc/model.safetensors"
expect_error truncated "model.safetensors" -- "$bin" inspect "$tmp/trunc"

copy_model lie
make_st "$tmp/lie/model.safetensors" '{"model.embed_tokens.weight":{"dtype":"F32","shape":[320,64],"data_offsets":[0,999999]}}' 64
expect_error lying-offsets "model.safetensors" "model.embed_tokens.weight" -- "$bin" inspect "$tmp/lie"

copy_model dtype
make_st "$tmp/dtype/model.safetensors" '{"model.embed_tokens.weight":{"dtype":"F8_E4M3","shape":[320,64],"data_offsets":[0,20480]}}' 20480
expect_error unknown-dtype "model.safetensors" "F8_E4M3" -- "$bin" inspect "$tmp/dtype"

copy_model shape
make_st "$tmp/shape/model.safetensors" '{"model.embed_tokens.weight":{"dtype":"F32","shape":[64,320],"data_offsets":[0,81920]}}' 81920
expect_error wrong-shape "model.safetensors" "model.embed_tokens.weight" -- "$bin" inspect "$tmp/shape"

copy_model missing
sed -i 's/"intermediate_size"/"intermediate_size_x"/' "$tmp/missing/config.json"
expect_error missing-key "config.json" "intermediate_size" -- "$bin" inspect "$tmp/missing"

copy_model arch
sed -i 's/LlamaForCausalLM/GPTNeoXForCausalLM/' "$tmp/arch/config.json"
expect_error unsupported-arch "config.json" "GPTNeoXForCausalLM" -- "$bin" inspect "$tmp/arch"

rm -rf "$tmp/adapter"; cp -r "$fx/llama/adapter" "$tmp/adapter"
sed -i 's/"r": 8/"r": 4/' "$tmp/adapter/adapter_config.json"
expect_error adapter-shape "adapter_model.safetensors" "lora_A" -- "$bin" inspect "$fx/llama/model" --adapter "$tmp/adapter"

expect_error no-model "nonexistent" -- "$bin" inspect "$tmp/nonexistent"

# merge: the merged model loads, and a bad adapter is refused without writing anything
if "$bin" merge --model "$fx/llama/model" --adapter "$fx/llama/adapter" -o "$tmp/merged" >/dev/null &&
   "$bin" inspect "$tmp/merged" >/dev/null; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL merge"; fi
expect_error merge-bad-adapter "lora_A" -- "$bin" merge --model "$fx/llama/model" --adapter "$tmp/adapter" -o "$tmp/merged2"
[ ! -e "$tmp/merged2" ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL merge wrote output on error"; }

# an rsLoRA adapter rewritten with plain alpha keeps the same scale
if "$bin" adapter plain-alpha "$fx/llama/adapter" "$tmp/plain" >/dev/null &&
   grep -q '"use_rslora": false' "$tmp/plain/adapter_config.json" &&
   "$bin" inspect "$fx/llama/model" --adapter "$tmp/plain" | grep -q "LoRA scale 5.65685"; then
  passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL adapter plain-alpha"; fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
