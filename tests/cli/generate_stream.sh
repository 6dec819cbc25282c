#!/usr/bin/env bash
# `retrace generate` streams its text as it is generated: the streamed bytes must equal the tokenizer's
# decoding of the generated ids (checked with `retrace tokenize --decode`) even when tokens split UTF-8
# characters, on a pipe and on a terminal, and the text must leave in several writes, not one at the end.
# Args: RETRACE_BIN FIXTURES_DIR
. "$(dirname "$0")/../cli_common.sh"

# A random tiny model over a byte-level BPE trained on accented and CJK text: its samples are full of
# tokens that are pieces of a character, the hard case for printing text before the end.
cp -r "$fx/models/llama/model" "$tmp/model"
for i in $(seq 50); do printf 'héllo wörld ünïcödé 日本語 ça\nété déjà vu 日本\n'; done >"$tmp/corpus.txt"
"$bin" tokenizer-train --vocab 300 --special '<s>' --special '</s>' --bos '<s>' --eos '</s>' \
  -o "$tmp/model" "$tmp/corpus.txt" >/dev/null 2>&1 || bad "tokenizer-train"

for seed in 1 2 3 4 5; do
  "$bin" generate -m "$tmp/model" -p "héllo" -n 40 --temp 1 -s $seed -v >"$tmp/out" 2>"$tmp/err" || bad "generate seed $seed"
  ids=$(sed -n 's/^debug: generated ids: //p' "$tmp/err")
  [ -n "$ids" ] || bad "no ids logged for seed $seed"
  echo "$ids" | "$bin" tokenize --tokenizer "$tmp/model" --decode --skip-special >"$tmp/want"
  cmp -s "$tmp/out" "$tmp/want" && ok || bad "seed $seed: streamed text differs from the decoded ids: $(od -c "$tmp/out" | head -3) vs $(od -c "$tmp/want" | head -3)"
done

# On a terminal (script gives it a pty) the text is the same; script turns \n into \r\n.
if command -v script >/dev/null; then
  script -qec "'$bin' generate -m '$tmp/model' -p héllo -n 40 --temp 1 -s 3 2>/dev/null" /dev/null | tr -d '\r' >"$tmp/tty"
  "$bin" generate -m "$tmp/model" -p "héllo" -n 40 --temp 1 -s 3 2>/dev/null >"$tmp/pipe"
  cmp -s "$tmp/tty" "$tmp/pipe" && ok || bad "terminal output differs from the pipe's"
else
  echo "skip: script(1) not installed, terminal output not checked"
fi

# Streaming: the text leaves in many writes (one per stable piece), not in one at the end.
if command -v strace >/dev/null && strace -o /dev/null true 2>/dev/null; then
  strace -f -e trace=write -o "$tmp/trace" "$bin" generate -m "$tmp/model" -p "héllo" -n 40 --temp 1 -s 3 >/dev/null 2>&1
  writes=$(grep -c '^[0-9]* *write(1,' "$tmp/trace")
  [ "$writes" -ge 10 ] && ok || bad "only $writes writes to stdout for 40 tokens"
else
  echo "skip: strace unavailable, the number of writes not checked"
fi

finish
