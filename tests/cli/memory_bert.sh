#!/usr/bin/env bash
# `retrace memory` with a BERT model directory as the embedder (the tiny fixture of tests/fixtures/bert):
# memory embed prints one JSON vector per text and the spec; a memory made with the model stores its
# spec, searches with it, and refuses the model once its pooling changed; bad model directories give
# one-line errors.
# Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fix=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 failn=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; failn=$((failn + 1)); }
one_line_error() { # expect non-zero exit and exactly one line on stderr containing $1
  local want=$1; shift
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then bad "'$*' exited 0"; return; fi
  if [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then bad "'$*' printed more than one line: $err"; return; fi
  case "$err" in *"$want"*) ok ;; *) bad "'$*': '$err' lacks '$want'" ;; esac
}

cp -r "$fix/bert/tiny-bert" "$tmp/model"
out=$("$bin" memory embed "$tmp/model" "take the apple" "open the fridge" 2>"$tmp/err")
[ "$(printf '%s\n' "$out" | wc -l)" -eq 2 ] && ok || bad "embed printed $(printf '%s\n' "$out" | wc -l) lines"
n=$(printf '%s\n' "$out" | head -n 1 | tr ',' '\n' | grep -c '[0-9]')
[ "$n" -eq 32 ] && ok || bad "embed vector has $n numbers, want 32"
grep -q "embedder bert-v1:model:32:mean:" "$tmp/err" && ok || bad "embed stderr lacks the spec: $(cat "$tmp/err")"
printf 'one\ntwo\nthree\n' | "$bin" memory embed "$tmp/model" --stdin 2>/dev/null | wc -l | grep -qx 3 && ok || bad "embed --stdin"

ep() { printf '{"id":"%s","env":"household","task":"%s","steps":[{"action":"go to fridge 1","observation":"ok"}],"outcome":"%s","reward":%s}\n' "$1" "$2" "$3" "$4"; }
{
  ep e1 "put a hot apple in the fridge" success 1.0
  ep e2 "put a cold mug in the cabinet" failure 0.0
  ep e3 "find a knife and bring it to the table" success 0.8
} > "$tmp/eps.jsonl"
mem=$tmp/mem
"$bin" memory init "$mem" --embedder "$tmp/model" 2>/dev/null && ok || bad "init with a model directory failed"
"$bin" memory add "$mem" "$tmp/eps.jsonl" 2>/dev/null && ok || bad "add failed"
"$bin" memory stats "$mem" | grep -q "bert-v1:model:32:mean:" && ok || bad "stats lacks the bert spec"
"$bin" memory search "$mem" "put a hot apple in the fridge" -k 1 --json 2>/dev/null | grep -q '"e1"' && ok || bad "search did not find e1 first"
"$bin" memory check "$mem" 2>/dev/null && ok || bad "check failed"
# The same directory with another pooling is another embedder.
printf '{"pooling_mode": "cls"}\n' > "$tmp/model/1_Pooling/config.json"
one_line_error "as when the memory was made" "$bin" memory search "$mem" "apple"

one_line_error "not a model directory" "$bin" memory embed "$tmp" "x"
one_line_error "unknown embedder" "$bin" memory embed "$tmp/nope" "x"
mkdir "$tmp/pt" && cp "$fix/bert/tiny-bert/config.json" "$fix/bert/tiny-bert/tokenizer.json" "$tmp/pt/" && : > "$tmp/pt/pytorch_model.bin"
one_line_error "pytorch_model.bin" "$bin" memory init "$tmp/mem2" --embedder "$tmp/pt"

echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
