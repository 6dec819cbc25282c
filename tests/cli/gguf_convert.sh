#!/usr/bin/env bash
# GGUF models on the command line: `convert` writes a folder that loads to the same weights as the
# Hugging Face fixture; every model-taking command takes a .gguf; bad files give exit 1 and one line
# naming the file. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fx=$2/gguf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { if eval "$2"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1"; fi; }

expect_error() { # NAME PATTERN -- CMD...: exit 1, one stderr line holding PATTERN
  local name=$1 pat=$2; shift 3
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && printf '%s' "$err" | grep -qF -- "$pat"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "FAIL $name (rc $rc): $err"
  fi
}

for arch in llama qwen2; do
  "$bin" convert "$fx/tiny-$arch.gguf" -o "$tmp/$arch" 2>/dev/null
  check "convert $arch" '[ -f "$tmp/$arch/model.safetensors" ] && [ -f "$tmp/$arch/config.json" ] && [ -f "$tmp/$arch/generation_config.json" ]'
  # The converted folder, the .gguf and the reference folder describe the same model.
  a=$("$bin" inspect "$tmp/$arch" | tail -n +2); b=$("$bin" inspect "$fx/tiny-$arch.gguf" | tail -n +2)
  c=$("$bin" inspect "$fx/tiny-$arch-hf" | tail -n +2)
  check "inspect $arch" '[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ]'
done

head -c 100 "$fx/tiny-llama.gguf" > "$tmp/cut.gguf"
expect_error "truncated" "cut.gguf" -- "$bin" inspect "$tmp/cut.gguf"
printf 'XXXXYYYYYYYYYYYYYYYYYYYY' > "$tmp/magic.gguf"
expect_error "bad magic" "bad magic" -- "$bin" inspect "$tmp/magic.gguf"
expect_error "unknown arch" "architecture 'none'" -- "$bin" inspect "$fx/dequant.gguf"
expect_error "missing" "nope.gguf" -- "$bin" inspect "$tmp/nope.gguf"
expect_error "generate bad" "cut.gguf" -- "$bin" generate --model "$tmp/cut.gguf" --prompt hi
expect_error "convert bad" "architecture 'none'" -- "$bin" convert "$fx/dequant.gguf" -o "$tmp/x"
check "convert wrote nothing on failure" '[ ! -e "$tmp/x/model.safetensors" ]'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
