#!/usr/bin/env bash
# `retrace tokenizer-train`: training is deterministic and reproduces the committed
# fixtures/tok/models/trained-bpe (whose ids the reference `tokenizers` library produced, see
# test_tok_ref), the result loads and round-trips, and bad arguments fail in one line.
# Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fixtures=$2
pass=0
failn=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; failn=$((failn + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" tokenizer-train --vocab 800 --special "<|endoftext|>" --eos "<|endoftext|>" -o "$tmp/bpe" \
  "$fixtures/tok/train_corpus.txt" 2>/dev/null || bad "training failed"
cmp -s "$tmp/bpe/tokenizer.json" "$fixtures/tok/models/trained-bpe/tokenizer.json" && ok ||
  bad "tokenizer.json differs from the committed trained-bpe"
cmp -s "$tmp/bpe/tokenizer_config.json" "$fixtures/tok/models/trained-bpe/tokenizer_config.json" && ok ||
  bad "tokenizer_config.json differs from the committed trained-bpe"
"$bin" tokenizer-train --vocab 600 --chat-template chatml -o "$tmp/chatml" "$fixtures/tok/train_corpus.txt" 2>/dev/null ||
  bad "training with --chat-template failed"
for f in tokenizer.json tokenizer_config.json; do
  cmp -s "$tmp/chatml/$f" "$fixtures/tok/models/trained-chatml/$f" && ok || bad "chatml $f differs from the committed trained-chatml"
done
"$bin" tokenizer-train --vocab 600 --chat-template jinja -o "$tmp/x" "$fixtures/tok/train_corpus.txt" 2>/dev/null &&
  bad "an unknown --chat-template exits 0" || ok
head -n 50 "$fixtures/tok/train_corpus.txt" >"$tmp/in.txt"
"$bin" tokenize --tokenizer "$tmp/bpe" <"$tmp/in.txt" | "$bin" tokenize --tokenizer "$tmp/bpe" --decode >"$tmp/back.txt"
cmp -s "$tmp/in.txt" "$tmp/back.txt" && ok || bad "decode(encode(x)) != x with the trained tokenizer"
printf '<|endoftext|>\n' | "$bin" tokenize --tokenizer "$tmp/bpe" | grep -qx 0 && ok || bad "the special token is not id 0"

# Bad arguments: one line, non-zero exit.
"$bin" tokenizer-train -o "$tmp/x" "$fixtures/tok/train_corpus.txt" 2>"$tmp/err" && bad "no --vocab exits 0" || ok
[ "$(wc -l <"$tmp/err")" -eq 1 ] && ok || bad "usage error is not one line"
"$bin" tokenizer-train --vocab 100 -o "$tmp/x" "$fixtures/tok/train_corpus.txt" 2>"$tmp/err" && bad "vocab 100 exits 0" || ok
"$bin" tokenizer-train --vocab 300 -o "$tmp/x" "$tmp/missing.txt" 2>"$tmp/err" && bad "missing corpus exits 0" || ok
grep -q "missing.txt" "$tmp/err" && ok || bad "missing corpus message: $(cat "$tmp/err")"
"$bin" tokenizer-train --vocab 300 --bos "<b>" -o "$tmp/x" "$fixtures/tok/train_corpus.txt" 2>/dev/null && ok || bad "--bos alone"
: >"$tmp/empty.txt"
"$bin" tokenizer-train --vocab 300 -o "$tmp/y" "$tmp/empty.txt" 2>"$tmp/err" && bad "empty corpus exits 0" || ok
grep -q "no text" "$tmp/err" && ok || bad "empty corpus message: $(cat "$tmp/err")"

echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
