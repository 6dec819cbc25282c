#!/usr/bin/env bash
# Bugs a new user met (issue 17): merge keeps the tokenizer, `gen -o -`, dataset given an SFT file, a broken
# environment, pretrain --resume with another shape, generate past max_position_embeddings, `help CMD`,
# `adapter plain-alpha --help`. Args: RETRACE_BIN FIXTURES_DIR
. "$(dirname "$0")/../cli_common.sh"

# A model folder with a tokenizer: the llama fixture (320 ids) and a 300-id BPE trained for it.
model_with_tokenizer "$tmp/model" --special '<s>' --special '</s>' --bos '<s>' --eos '</s>'

# merge: the merged folder carries the tokenizer and generation_config.json, so generate runs on it.
"$bin" merge --model "$tmp/model" --adapter "$fx/models/llama/adapter" -o "$tmp/merged" >/dev/null || bad "merge failed"
for f in tokenizer.json tokenizer_config.json generation_config.json; do
  [ -f "$tmp/merged/$f" ] && cmp -s "$tmp/model/$f" "$tmp/merged/$f" && ok || bad "merge did not copy $f"
done
# Numbers written as they were read: the fixture's rms_norm_eps 1e-05 (a float32), not 9.9999997473787516e-06.
grep -q '"rms_norm_eps": 1e-0\?5,' "$tmp/merged/config.json" && ok || bad "rms_norm_eps written as $(grep rms_norm_eps "$tmp/merged/config.json")"
"$bin" generate --model "$tmp/merged" --prompt "hello" --max-new 3 >/dev/null 2>"$tmp/err" && ok ||
  bad "generate on the merged model: $(cat "$tmp/err")"

# gen -o - writes the episodes to stdout and no file named '-'.
(cd "$tmp" && "$bin" gen --env household --episodes 2 -o - >"$tmp/stdout.jsonl" 2>"$tmp/err") || bad "gen -o - failed"
[ "$(wc -l <"$tmp/stdout.jsonl")" -eq 2 ] && [ ! -e "$tmp/-" ] && ok || bad "gen -o -: $(head -c 300 "$tmp/stdout.jsonl")"
grep -q '"steps"' "$tmp/stdout.jsonl" && ok || bad "gen -o - did not write episodes"

# dataset --from an SFT file says what it is and what it expected.
echo '{"id": "x1", "prompt": "task: a", "completion": "act: b"}' >"$tmp/sft.jsonl"
"$bin" dataset --no-retrieval --from "$tmp/sft.jsonl" --tokenizer "$tmp/model" -o "$tmp/out.jsonl" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && grep -q "sft.jsonl:1: this is a training example.*not an episode" "$tmp/err" && ok ||
  bad "dataset on an SFT file: rc $rc: $(cat "$tmp/err")"
[ ! -e "$tmp/out.jsonl" ] && ok || bad "dataset on an SFT file left an output"

# gen with an environment that fails every episode fails the run with the reason.
"$bin" gen --env exec:false --episodes 2 -o "$tmp/broken.jsonl" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && grep -q "failed on every episode" "$tmp/err" && ok || bad "gen --env exec:false: rc $rc: $(cat "$tmp/err")"
[ ! -e "$tmp/broken.jsonl" ] && ok || bad "gen --env exec:false wrote a file"

# pretrain --resume with another shape is refused, naming the option.
"$bin" pretrain --steps 2 --seq 16 --batch 2 --hidden 16 --layers 1 --heads 2 --kv-heads 1 --intermediate 32 \
  --vocab 300 --checkpoint-every 1 --threads 1 -o "$tmp/pt" >/dev/null 2>&1 || bad "pretrain failed"
"$bin" pretrain --steps 4 --seq 32 --batch 2 --hidden 16 --layers 1 --heads 2 --kv-heads 1 --intermediate 32 \
  --vocab 300 --threads 1 --resume -o "$tmp/pt" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -ne 0 ] && grep -q -- "--seq was 16 when the run started and is 32 now" "$tmp/err" && ok ||
  bad "pretrain --resume with another --seq: rc $rc: $(cat "$tmp/err")"
"$bin" pretrain --steps 3 --seq 16 --batch 2 --hidden 16 --layers 1 --heads 2 --kv-heads 1 --intermediate 32 \
  --vocab 300 --threads 1 --resume -o "$tmp/pt" >/dev/null 2>"$tmp/err" && ok || bad "same-shape resume: $(cat "$tmp/err")"

# The README tour tokenizes with the tokenizer pretrain wrote (every clone has it once the tour ran pretrain).
echo "Hello, world" | "$bin" tokenize --tokenizer "$tmp/pt/model" | grep -q "[0-9]" && ok || bad "tokenize with pretrain's tokenizer"
grep -q -- "--tokenizer /tmp/tiny/model" "$(dirname "$0")/../../README.md" && ok || bad "the README tour names another tokenizer"

# generate past max_position_embeddings: warned and cut; a prompt that fills them is refused.
sed 's/"max_position_embeddings": [0-9]*/"max_position_embeddings": 8/' "$tmp/model/config.json" >"$tmp/c.json"
mkdir -p "$tmp/short" && cp "$tmp/model/"* "$tmp/short/" && mv "$tmp/c.json" "$tmp/short/config.json"
grep -q '"max_position_embeddings": 8' "$tmp/short/config.json" || bad "fixture config has no max_position_embeddings"
"$bin" generate --model "$tmp/short" --prompt "a b" --max-new 50 >/dev/null 2>"$tmp/err" &&
  grep -q "exceed max_position_embeddings 8" "$tmp/err" && ok || bad "generate past the positions: $(cat "$tmp/err")"
"$bin" generate --model "$tmp/short" --prompt "a b c d e f g h i j k l" --max-new 5 >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "allows 8 positions" "$tmp/err" && ok || bad "a prompt past the positions: $(cat "$tmp/err")"

# help CMD prints the command's help; a subcommand's --help exits 0.
"$bin" help train | grep -q "usage: retrace train" && ok || bad "retrace help train"
"$bin" adapter plain-alpha --help >/dev/null && ok || bad "adapter plain-alpha --help exits $?"

finish
