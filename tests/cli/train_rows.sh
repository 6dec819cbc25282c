#!/usr/bin/env bash
# `retrace train --data` takes TRL's dataset rows: {"prompt","completion"}, {"text"} and {"messages"}. The
# tokenized examples (--dump-tokens) must be TRL's own tokenization of the same rows (tools/check_trl_rows.py,
# skipped with the reason where TRL is not installed); without TRL the targets are checked by decoding them.
# Training runs on a file mixing the three kinds. Args: RETRACE_BIN FIXTURES_DIR
. "$(dirname "$0")/../cli_common.sh"

cat >"$tmp/rows.jsonl" <<'EOF'
{"prompt": "task: put the apple in the fridge.\n", "completion": "act: take apple"}
{"prompt": "task: heat the mug.\nobs: you see a mug.\n", "completion": "think: take it first\nact: take mug"}
{"text": "the cat sat on the mat"}
{"text": "déjà vu: a second line\nand a third"}
{"messages": [{"role": "user", "content": "put the mug away"}, {"role": "assistant", "content": "act: take mug"}]}
{"messages": [{"role": "system", "content": "You are an agent."}, {"role": "user", "content": "put the mug away"}, {"role": "assistant", "content": "act: take mug"}, {"role": "user", "content": "and then?"}, {"role": "assistant", "content": "act: go to shelf"}]}
EOF

# The committed ChatML tokenizer (transformers loads it too).
tokdir=$fx/tok/models/trained-chatml
"$bin" train --tokenizer "$tokdir" --data "$tmp/rows.jsonl" --dump-tokens "$tmp/dump.jsonl" >/dev/null 2>"$tmp/err" && ok ||
  bad "--dump-tokens: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/dump.jsonl")" -eq 6 ] && ok || bad "expected 6 tokenized rows"

# Without TRL: the targets of each row decode to what should be learnt.
targets() { # LINE -> the target ids of that dumped row, space-separated
  python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(" ".join(str(i) for i,m in zip(r["input_ids"],r["mask"]) if m))'
}
alltext() { python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(" ".join(map(str, r["input_ids"])))'; }
decode() { "$bin" tokenize --tokenizer "$tokdir" --decode; }
row() { sed -n "${1}p" "$tmp/dump.jsonl"; }
[ "$(row 1 | targets | decode)" = "act: take apple<|im_end|>" ] && ok || bad "prompt/completion targets: $(row 1 | targets | decode)"
[ "$(row 3 | alltext | decode)" = "the cat sat on the mat<|im_end|>" ] && ok || bad "text row: $(row 3 | alltext | decode)"
# every token of a text row but the first (nothing predicts it) is a target
[ "$(row 3 | targets | wc -w)" -eq $(($(row 3 | alltext | wc -w) - 1)) ] && ok || bad "text targets: $(row 3)"
want=$(printf 'act: take mug<|im_end|>\nact: go to shelf<|im_end|>\n')
[ "$(row 6 | targets | decode)" = "$want" ] && ok || bad "messages targets: $(row 6 | targets | decode)"
[ "$(row 6 | alltext | decode)" = "$(printf '<|im_start|>system\nYou are an agent.<|im_end|>\n<|im_start|>user\nput the mug away<|im_end|>\n<|im_start|>assistant\nact: take mug<|im_end|>\n<|im_start|>user\nand then?<|im_end|>\n<|im_start|>assistant\nact: go to shelf<|im_end|>\n')" ] &&
  ok || bad "messages rendering: $(row 6 | alltext | decode)"

# With TRL: the same ids and masks as TRL's SFTTrainer builds.
python3 "$(dirname "$0")/../../tools/check_trl_rows.py" "$tokdir" "$tmp/rows.jsonl" "$tmp/dump.jsonl" >"$tmp/trl" 2>"$tmp/trl.err"
rc=$?
if [ $rc -eq 77 ]; then cat "$tmp/trl"
elif [ $rc -eq 0 ]; then ok; cat "$tmp/trl"
else bad "TRL comparison: $(cat "$tmp/trl") $(tail -5 "$tmp/trl.err")"; fi

# Bad rows name the line and what is wrong.
echo '{"messages": [{"role": "user"}]}' >"$tmp/bad.jsonl"
err=$("$bin" train --tokenizer "$tokdir" --data "$tmp/bad.jsonl" --dump-tokens "$tmp/x" 2>&1 >/dev/null)
[ $? -eq 1 ] && echo "$err" | grep -q "bad.jsonl:1: message 0 needs string fields 'role' and 'content'" && ok || bad "bad messages: $err"
echo '{"messages": [{"role": "user", "content": "hi"}]}' >"$tmp/noasst.jsonl"
err=$("$bin" train --tokenizer "$tokdir" --data "$tmp/noasst.jsonl" --dump-tokens "$tmp/x" 2>&1 >/dev/null)
[ $? -eq 1 ] && echo "$err" | grep -q "no usable example" && ok || bad "a conversation without an assistant turn: $err"

# Training on the three kinds mixed: a ChatML BPE of 300 ids for the llama fixture (320 ids).
model_with_tokenizer "$tmp/model" --chat-template chatml
"$bin" train -m "$tmp/model" --data "$tmp/rows.jsonl" --preset tiny --steps 3 --batch 2 --max-len 64 -t 1 \
  -o "$tmp/run" >"$tmp/out" 2>"$tmp/err" && grep -q "6 examples" "$tmp/err" && [ -f "$tmp/run/adapter/adapter_model.safetensors" ] &&
  ok || bad "train on mixed rows: $(cat "$tmp/out" "$tmp/err")"

finish
