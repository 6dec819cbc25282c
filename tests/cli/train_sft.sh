#!/usr/bin/env bash
# retrace train end to end on the tiny Llama fixture: a BPE tokenizer trained for it, prompt/completion
# data, LoRA SFT with validation, PEFT export that loads back, resume, full fine-tuning, and bad data.
# Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fx=$2/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# Data: "task: ..." -> the actions, which follow from the task (so the loss can fall).
objects=(apple mug knife plate tomato egg bowl spoon)
places=(fridge shelf cabinet drawer countertop)
: > "$tmp/train.jsonl"; : > "$tmp/val.jsonl"; : > "$tmp/corpus.txt"
for i in $(seq 0 39); do
  o=${objects[$((i % 8))]} p=${places[$((i % 5))]}
  line="{\"prompt\": \"task: put the $o in the $p.\\nact:\", \"completion\": \" take $o; go to $p; put $o in $p\"}"
  if [ $i -lt 32 ]; then echo "$line" >> "$tmp/train.jsonl"; else echo "$line" >> "$tmp/val.jsonl"; fi
  echo "task: put the $o in the $p. act: take $o; go to $p; put $o in $p" >> "$tmp/corpus.txt"
done

# The fixture model has 320 ids: a byte-level BPE of 300 fits it.
cp -r "$fx/llama/model" "$tmp/model"
"$bin" tokenizer-train --vocab 300 --special '<s>' --special '</s>' --bos '<s>' --eos '</s>' \
  -o "$tmp/model" "$tmp/corpus.txt" >/dev/null 2>&1 && ok || bad "tokenizer-train"

out=$("$bin" train --model "$tmp/model" --data "$tmp/train.jsonl" --val "$tmp/val.jsonl" --preset tiny \
        --steps 30 --batch 4 --max-len 64 --eval-every 10 --threads 1 -o "$tmp/run" 2>"$tmp/err")
echo "$out" | grep -q "saved $tmp/run/adapter" && ok || bad "train did not save the adapter: $out $(cat "$tmp/err")"
first=$(echo "$out" | sed -n 's/^loss \([0-9.]*\) -> \([0-9.]*\).*/\1/p')
last=$(echo "$out" | sed -n 's/^loss \([0-9.]*\) -> \([0-9.]*\).*/\2/p')
# LoRA on a random base learns slowly (seen: 5.78 -> 4.96 in 30 steps); full fine-tuning below learns fast.
awk -v a="$first" -v b="$last" 'BEGIN { exit !(a > 0 && b < a * 0.9) }' && ok || bad "loss did not fall: $first -> $last"
vals=$(sed -n 's/.*"val_loss": \([0-9.]*\).*/\1/p' "$tmp/run/loss.jsonl" | tr '\n' ' ')
[ "$(echo $vals | wc -w)" -eq 3 ] && awk -v v="$vals" 'BEGIN { split(v, x, " "); exit !(x[3] < x[1]) }' && ok || bad "validation: $vals"
"$bin" inspect "$tmp/model" --adapter "$tmp/run/adapter" | grep -q "rsLoRA scale 8" && ok || bad "exported adapter does not load"

# Resume: ten more steps continue from the checkpoint at step 30.
"$bin" train --model "$tmp/model" --data "$tmp/train.jsonl" --preset tiny --steps 40 --batch 4 --max-len 64 \
  --threads 1 --resume -o "$tmp/run" 2>"$tmp/err" | grep -q "over 40 steps" && grep -q "resumed from" "$tmp/err" && ok || bad "resume: $(cat "$tmp/err")"

# Full fine-tuning learns the mapping and saves a whole model that loads.
out=$("$bin" train --model "$tmp/model" --data "$tmp/train.jsonl" --full --lr 3e-3 --steps 40 --batch 4 --max-len 64 \
  --threads 1 -o "$tmp/full" 2>/dev/null)
last=$(echo "$out" | sed -n 's/^loss \([0-9.]*\) -> \([0-9.]*\).*/\2/p')
awk -v b="$last" 'BEGIN { exit !(b > 0 && b < 2.5) }' && "$bin" inspect "$tmp/full/model" >/dev/null && ok || bad "full fine-tuning: $out"

# The fine-tuned model continues a training prompt with its actions (greedy, stops at EOS or a stop string).
gen=$("$bin" generate --model "$tmp/full/model" --tokenizer "$tmp/model" --max-new 12 --stop ";" \
      --prompt "$(printf 'task: put the apple in the fridge.\nact:')" 2>&1)
case "$gen" in " take"*) ok ;; *) bad "generate: '$gen'" ;; esac

# Truncation is counted and reported; bad lines name file and line.
"$bin" train --model "$tmp/model" --data "$tmp/train.jsonl" --preset tiny --steps 2 --batch 2 --max-len 24 \
  --threads 1 -o "$tmp/short" 2>"$tmp/err" >/dev/null
grep -q "lost the start of their prompt" "$tmp/err" && ok || bad "truncation not reported: $(cat "$tmp/err")"
printf '{"prompt": "a", "completion": "b"}\n{"prompt": 3}\n' > "$tmp/badline.jsonl"
err=$("$bin" train --model "$tmp/model" --data "$tmp/badline.jsonl" -o "$tmp/x" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "badline.jsonl:2: missing string field 'prompt'" && ok || bad "bad line: rc $rc $err"
err=$("$bin" train --model "$tmp/model" --tokenizer "$tmp/nope" --data "$tmp/train.jsonl" -o "$tmp/x" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && ok || bad "missing tokenizer: rc $rc $err"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
