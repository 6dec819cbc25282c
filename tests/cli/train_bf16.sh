#!/usr/bin/env bash
# retrace train --base-dtype: LoRA SFT with the frozen base in bf16 on the tiny Llama fixture learns as
# the float32 run does (the loss falls, the adapter is saved, resume continues), and bad values are
# refused with one line. Without oneDNN in the build, bf16 is refused with a message that says so.
# Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fx=$2/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

objects=(apple mug knife plate tomato egg bowl spoon)
places=(fridge shelf cabinet drawer countertop)
: > "$tmp/train.jsonl"; : > "$tmp/corpus.txt"
for i in $(seq 0 31); do
  o=${objects[$((i % 8))]} p=${places[$((i % 5))]}
  echo "{\"prompt\": \"task: put the $o in the $p.\\nact:\", \"completion\": \" take $o; go to $p; put $o in $p\"}" >> "$tmp/train.jsonl"
  echo "task: put the $o in the $p. act: take $o; go to $p; put $o in $p" >> "$tmp/corpus.txt"
done
cp -r "$fx/llama/model" "$tmp/model"
"$bin" tokenizer-train --vocab 300 --special '<s>' --special '</s>' --bos '<s>' --eos '</s>' \
  -o "$tmp/model" "$tmp/corpus.txt" >/dev/null 2>&1 && ok || bad "tokenizer-train"

train() { # dtype out extra...
  local dt=$1 out=$2; shift 2
  "$bin" train --model "$tmp/model" --data "$tmp/train.jsonl" --preset tiny --batch 4 --max-len 64 --threads 1 \
    --base-dtype "$dt" -o "$out" "$@" 2>"$out.err"
}
losses() { sed -n 's/^loss \([0-9.]*\) -> \([0-9.]*\).*/\1 \2/p'; }

out32=$(train f32 "$tmp/f32" --steps 30)
echo "$out32" | grep -q "saved $tmp/f32/adapter" && ok || bad "f32 run: $out32 $(cat "$tmp/f32.err")"
grep -q "f32 base" "$tmp/f32.err" && ok || bad "f32 run does not say f32 base: $(cat "$tmp/f32.err")"

out=$(train bf16 "$tmp/bf16" --steps 30); rc=$?
if grep -qE "without oneDNN|no bf16 matmul on this CPU" "$tmp/bf16.err"; then
  echo "bf16 unavailable here ($(tail -n 1 "$tmp/bf16.err")): checking the refusal only"
  [ $rc -ne 0 ] && [ "$(wc -l < "$tmp/bf16.err")" -le 2 ] && ok || bad "bf16 refused: rc $rc $(cat "$tmp/bf16.err")"
else
  echo "$out" | grep -q "saved $tmp/bf16/adapter" && ok || bad "bf16 run: $out $(cat "$tmp/bf16.err")"
  grep -q "bf16 base" "$tmp/bf16.err" && ok || bad "bf16 run does not say bf16 base: $(cat "$tmp/bf16.err")"
  read -r a32 b32 <<< "$(echo "$out32" | losses)"
  read -r a16 b16 <<< "$(echo "$out" | losses)"
  # The first loss is the same model before any update: bf16 rounding moves it by well under 1%; after 30
  # steps both runs have learned about as much (seen: 5.78 -> 4.96 in float32).
  awk -v a="$a32" -v b="$a16" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d < 0.01 * a) }' && ok \
    || bad "first loss f32 $a32 vs bf16 $a16"
  awk -v a="$a16" -v b="$b16" -v c="$b32" 'BEGIN { d = b - c; if (d < 0) d = -d; exit !(b < a * 0.9 && d < 0.05 * c) }' && ok \
    || bad "bf16 loss $a16 -> $b16 (f32 ends at $b32)"
  "$bin" inspect "$tmp/model" --adapter "$tmp/bf16/adapter" | grep -q "rsLoRA scale 8" && ok || bad "bf16 adapter does not load"
  # Resume in bf16 continues from the checkpoint.
  train bf16 "$tmp/bf16" --steps 35 --resume | grep -q "over 35 steps" && grep -q "resumed from" "$tmp/bf16.err" && ok \
    || bad "bf16 resume: $(cat "$tmp/bf16.err")"
fi

err=$(train f16 "$tmp/x" --steps 1 2>&1); rc=$?
[ $rc -eq 2 ] && grep -q "base-dtype must be auto, bf16 or f32" "$tmp/x.err" && ok || bad "--base-dtype f16: rc $rc $(cat "$tmp/x.err")"
train bf16 "$tmp/y" --steps 1 --full >/dev/null; rc=$?
[ $rc -eq 2 ] && grep -q "for LoRA training" "$tmp/y.err" && ok || bad "--base-dtype bf16 --full: rc $rc $(cat "$tmp/y.err")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
