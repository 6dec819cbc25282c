#!/usr/bin/env bash
# retrace pretrain: a tokenizer and a model trained from scratch, a complete folder that loads, resume,
# bad input. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
small=(--hidden 32 --layers 1 --heads 2 --kv-heads 1 --intermediate 64 --vocab 400 --batch 4 --seq 32 --threads 1)

out=$("$bin" pretrain "${small[@]}" --steps 30 --checkpoint-every 10 -o "$tmp/p" 2>"$tmp/err")
first=$(echo "$out" | sed -n 's/^loss \([0-9.]*\) -> \([0-9.]*\).*/\1/p')
last=$(echo "$out" | sed -n 's/^loss \([0-9.]*\) -> \([0-9.]*\).*/\2/p')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(a > 5 && b < a - 1.5) }' && ok || bad "loss $first -> $last: $(cat "$tmp/err")"
for f in config.json model.safetensors tokenizer.json tokenizer_config.json; do
  [ -s "$tmp/p/model/$f" ] && ok || bad "missing model/$f"
done
"$bin" inspect "$tmp/p/model" | grep -q "vocab 400" && ok || bad "inspect of the pretrained model"
echo "$out" | grep -q "^sample" && ok || bad "no sample printed"

# Resume continues the same run to a later step count.
"$bin" pretrain "${small[@]}" --steps 40 --resume -o "$tmp/p" 2>"$tmp/err" | grep -q "over 40 steps" &&
  grep -q "resumed from" "$tmp/err" && ok || bad "resume: $(cat "$tmp/err")"

# Pretraining on episodes: the corpus is the episodes as the agent's prompts render them.
"$bin" gen --env household --episodes 30 --policy expert -o "$tmp/runs.jsonl" >/dev/null 2>&1
"$bin" pretrain "${small[@]}" --steps 5 --episodes "$tmp/runs.jsonl" -o "$tmp/e" >/dev/null 2>"$tmp/err" &&
  grep -q "^think: " "$tmp/e/corpus.txt" && grep -q "^outcome: success (reward 1.00)" "$tmp/e/corpus.txt" && ok || bad "--episodes"
# Windows start at episode starts: every episode but (at most) the last leaves room for 33 tokens.
n=$(sed -n 's/.*windows start at episode starts (\([0-9]*\) of 30 episodes.*/\1/p' "$tmp/err")
[ -n "$n" ] && [ "$n" -ge 29 ] && ok || bad "episode-aligned windows: '$n' ($(cat "$tmp/err"))"
# A window longer than all the episodes together is refused, naming the file.
head -n 1 "$tmp/runs.jsonl" > "$tmp/one.jsonl"
err=$("$bin" pretrain "${small[@]}" --seq 4096 --episodes "$tmp/one.jsonl" -o "$tmp/e1" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "one.jsonl: .* shorter than one sequence of 4097" && ok || bad "one short episode: rc $rc $err"

# Bad input: a missing text file, a text shorter than one sequence.
err=$("$bin" pretrain "${small[@]}" --text "$tmp/none.txt" -o "$tmp/q" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "none.txt" && ok || bad "missing text: rc $rc $err"
printf 'short text\n' > "$tmp/short.txt"
err=$("$bin" pretrain "${small[@]}" --vocab 300 --text "$tmp/short.txt" -o "$tmp/q" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "shorter than one sequence" && ok || bad "short text: rc $rc $err"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
