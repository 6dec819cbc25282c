#!/usr/bin/env bash
# `retrace tokenize`: ids per line, empty line in -> empty line out, --decode back to the text, invalid
# UTF-8 replaced (never a crash), one-line errors with the line number for bad ids, and errors naming
# the field of a broken tokenizer.json. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fixtures=$2
shared="$(dirname "$0")/../../../shared/models/tokenizers"
pass=0
failn=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; failn=$((failn + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Usage errors need no tokenizer.
"$bin" tokenize 2>"$tmp/err" && bad "no --tokenizer exits 0" || ok
[ "$(wc -l <"$tmp/err")" -eq 1 ] && ok || bad "usage error is not one line: $(cat "$tmp/err")"
"$bin" tokenize --help | grep -q "usage: retrace tokenize" && ok || bad "--help"

# A broken tokenizer.json: the error names the file and the field.
echo '{"model": {"type": "Magic", "vocab": {}}}' >"$tmp/tokenizer.json"
"$bin" tokenize --tokenizer "$tmp/tokenizer.json" </dev/null 2>"$tmp/err" && bad "unknown model type exits 0" || ok
grep -q "model.type 'Magic' is not supported" "$tmp/err" && ok || bad "unknown type message: $(cat "$tmp/err")"
echo '{"model": {"type": "BPE", "vocab": {"a": 0}}}' >"$tmp/tokenizer.json"
"$bin" tokenize --tokenizer "$tmp/tokenizer.json" </dev/null 2>"$tmp/err" && bad "missing merges exits 0" || ok
grep -q "tokenizer.json: missing field 'model.merges'" "$tmp/err" && ok || bad "missing field message: $(cat "$tmp/err")"
"$bin" tokenize --tokenizer "$tmp/none.json" </dev/null 2>"$tmp/err" && bad "missing file exits 0" || ok
grep -q "none.json" "$tmp/err" && ok || bad "missing file message: $(cat "$tmp/err")"

for name in llama3 qwen3 mistral; do
  dir="$shared/$name"
  if [ ! -d "$dir" ]; then
    echo "SKIP: $dir not found (the real tokenizers live in ../shared)"
    continue
  fi
  printf 'Hello world\n\nsecond line: 你好 🎉\n' >"$tmp/in.txt"
  "$bin" tokenize --tokenizer "$dir" <"$tmp/in.txt" >"$tmp/ids.txt" || bad "$name: encode failed"
  [ "$(wc -l <"$tmp/ids.txt")" -eq 3 ] && ok || bad "$name: 3 lines in, $(wc -l <"$tmp/ids.txt") out"
  [ -z "$(sed -n 2p "$tmp/ids.txt")" ] && ok || bad "$name: empty line did not give an empty line"
  grep -qvE '^([0-9]+( [0-9]+)*)?$' "$tmp/ids.txt" && bad "$name: ids are not single-space separated" || ok
  "$bin" tokenize --tokenizer "$dir" --decode <"$tmp/ids.txt" >"$tmp/back.txt" || bad "$name: decode failed"
  cmp -s "$tmp/in.txt" "$tmp/back.txt" && ok || bad "$name: decode(encode(x)) != x: $(cat "$tmp/back.txt")"
  # Invalid UTF-8 is replaced, never a crash.
  printf 'ab\xff\xfecd\n' | "$bin" tokenize --tokenizer "$dir" >"$tmp/inv.txt" && ok || bad "$name: invalid UTF-8 failed"
  printf '1 2 99999999\n' | "$bin" tokenize --tokenizer "$dir" --decode 2>/dev/null >/dev/null && bad "$name: out-of-range id exits 0" || ok
  printf '1\n2 x\n' | "$bin" tokenize --tokenizer "$dir" --decode 2>"$tmp/err" >/dev/null
  grep -q "line 2: 'x' is not a token id" "$tmp/err" && ok || bad "$name: bad id message: $(cat "$tmp/err")"
  printf '5\n6 99999999\n' | "$bin" tokenize --tokenizer "$dir" --decode 2>"$tmp/err" >/dev/null
  grep -q "line 2: id 99999999 is not in the vocabulary" "$tmp/err" && ok || bad "$name: range message: $(cat "$tmp/err")"
done

# --chat renders through the tokenizer's template (the expected texts are fixture cases 1 and 2 of
# qwen3.chat.json, from transformers); a tokenizer without a template is refused in one line.
if [ -d "$shared/qwen3" ]; then
  echo '[{"role": "user", "content": "Hi"}]' | "$bin" tokenize --tokenizer "$shared/qwen3" --chat --generation-prompt >"$tmp/chat.txt"
  printf '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n' | cmp -s - "$tmp/chat.txt" && ok || bad "qwen3 --chat: $(cat "$tmp/chat.txt")"
  echo '[{"role": "user", "content": "Hi"}]' | "$bin" tokenize --tokenizer "$shared/qwen3" --chat --generation-prompt --no-thinking >"$tmp/chat.txt"
  printf '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n' | cmp -s - "$tmp/chat.txt" && ok ||
    bad "qwen3 --chat --no-thinking: $(cat "$tmp/chat.txt")"
  echo '[{"role": "user", "content": "Hi"}]' | "$bin" tokenize --tokenizer "$shared/mistral" --chat 2>"$tmp/err" && bad "mistral --chat exits 0" || ok
  grep -q "tokenizer_config.json: no chat_template is set" "$tmp/err" && ok || bad "mistral --chat message: $(cat "$tmp/err")"
  # With Mistral's own template (v0.1, tests/fixtures/tok/chat; it holds no '"' or '\\') the shared
  # Mistral tokenizer renders, and a conversation the template refuses fails with the template's message.
  mkdir -p "$tmp/mistral"
  cp "$shared/mistral/tokenizer.json" "$tmp/mistral/"
  printf '{"bos_token": "<s>", "eos_token": "</s>", "chat_template": "%s"}' \
    "$(cat "$(dirname "$0")/../fixtures/tok/chat/mistral-v1.jinja")" >"$tmp/mistral/tokenizer_config.json"
  echo '[{"role": "user", "content": "Hi"}]' | "$bin" tokenize --tokenizer "$tmp/mistral" --chat >"$tmp/chat.txt"
  printf '<s>[INST] Hi [/INST]' | cmp -s - "$tmp/chat.txt" && ok || bad "mistral template --chat: $(cat "$tmp/chat.txt")"
  echo '[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]' |
    "$bin" tokenize --tokenizer "$tmp/mistral" --chat 2>"$tmp/err" && bad "non-alternating mistral --chat exits 0" || ok
  grep -q "Conversation roles must alternate" "$tmp/err" && ok || bad "mistral raise message: $(cat "$tmp/err")"
  echo '[{"role": "user"}]' | "$bin" tokenize --tokenizer "$shared/qwen3" --chat 2>"$tmp/err" && bad "message without content exits 0" || ok
fi

echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
