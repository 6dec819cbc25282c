#!/usr/bin/env bash
# The pipeline on a Hugging Face model folder instead of the built-in tiny model: the random Llama
# checkpoint of the core fixtures with a ChatML tokenizer trained for it goes through memory, dataset,
# LoRA SFT with the paper preset and the chat template, PEFT export, and the agent's evaluation with
# the adapter and dynamic retrieval. Also: an adapter for another base model and a prompt budget that
# the task cannot fit are clear errors. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fx=$2/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

"$bin" gen --env household --episodes 12 --seed 5 -o "$tmp/runs.jsonl" >/dev/null 2>&1 && ok || bad "gen"
python3 - "$tmp/runs.jsonl" > "$tmp/corpus.txt" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    print(e["task"], e["meta"]["first_observation"])
    for s in e["steps"]:
        print("think:", s["thought"]); print("act:", s["action"]); print("obs:", s["observation"])
PY
# The fixture has 320 ids; a 300-token byte-level BPE with the ChatML template fits it.
cp -r "$fx/llama/model" "$tmp/llama"
"$bin" tokenizer-train --vocab 300 --chat-template chatml -o "$tmp/llama" "$tmp/corpus.txt" >/dev/null 2>&1 && ok || bad "tokenizer-train"
"$bin" memory init "$tmp/mem" >/dev/null 2>&1 && "$bin" memory add "$tmp/mem" "$tmp/runs.jsonl" >/dev/null 2>&1 && ok || bad "memory"

"$bin" dataset "$tmp/mem" --from "$tmp/runs.jsonl" --tokenizer "$tmp/llama" --retrieve 1 --negatives 0 --budget 1200 \
  -o "$tmp/sft.jsonl" > "$tmp/ds.out" 2>&1 && [ "$(wc -l < "$tmp/sft.jsonl")" -gt 20 ] && ok || bad "dataset: $(cat "$tmp/ds.out")"
head -24 "$tmp/sft.jsonl" > "$tmp/sft_small.jsonl"

# The paper preset (rsLoRA r 128, alpha 256, all 7 projections) with the chat template.
out=$("$bin" train --model "$tmp/llama" --data "$tmp/sft_small.jsonl" --chat --steps 3 --batch 2 --max-len 1400 \
  --threads 1 -o "$tmp/run" 2>&1) && ok || bad "train: $out"
python3 - "$tmp/run/adapter/adapter_config.json" <<'PY' && ok || bad "adapter config is not the paper recipe"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["r"] == 128 and c["lora_alpha"] == 256 and c["use_rslora"] is True, c
assert sorted(c["target_modules"]) == sorted(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]), c
PY

common=(--model "$tmp/llama" --env household --episodes 2 --max-steps 2 --max-new 12 --budget 1200 --threads 1 --chat)
out=$("$bin" eval "${common[@]}" --adapter "$tmp/run/adapter" --memory "$tmp/mem" --dynamic -o "$tmp/ev.jsonl" \
  --json "$tmp/ev.json" 2>&1) && ok || bad "eval: $out"
python3 - "$tmp/ev.json" "$tmp/ev.jsonl" <<'PY' && ok || bad "eval results"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["episodes"] == 2 and s["retrieval"] == "dynamic" and s["adapter"].endswith("adapter"), s
assert 0 <= s["ci_low"] <= s["success_rate"] <= s["ci_high"] <= 1
eps = [json.loads(l) for l in open(sys.argv[2])]
assert len(eps) == 2 and all(1 <= len(e["steps"]) <= 2 for e in eps)
PY

# An adapter trained for the Llama fixture does not fit the Mistral fixture: a clear error, exit 1.
err=$("$bin" eval --model "$fx/mistral/model" --tokenizer "$tmp/llama" --adapter "$tmp/run/adapter" --env household \
  --episodes 1 --no-retrieval 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -qi "adapter" && ok || bad "adapter for another base: rc $rc: $err"
# A budget too small for the task and the last step: counted by dataset, an error for eval.
out=$("$bin" dataset "$tmp/mem" --from "$tmp/runs.jsonl" --tokenizer "$tmp/llama" --budget 40 -o "$tmp/none.jsonl" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "steps left out: the task and the last step alone exceed the budget of 40" &&
  echo "$out" | grep -q "no example was written" && ok || bad "over-budget steps not reported: rc $rc: $out"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
