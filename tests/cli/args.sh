#!/usr/bin/env bash
# One option parser for every command (src/cli/args.c): --help on every command, GNU forms (--opt=value,
# -k3, bundled short flags, --), llama.cpp's and Hugging Face's spellings, and the same one-line errors.
# Args: RETRACE_BIN FIXTURES_DIR
. "$(dirname "$0")/../cli_common.sh"

# Every command: --help and -h exit 0 with usage on stdout, `help CMD` prints the same, and an unknown
# option is one line on stderr with exit 2.
cmds=$("$bin" --help | sed -n 's/^  \([a-z-]*\) .*/\1/p')
[ "$(echo "$cmds" | wc -w)" -ge 10 ] || bad "could not list the commands: $cmds"
for c in $cmds; do
  out=$("$bin" "$c" --help 2>&1) && echo "$out" | grep -q "^usage: retrace $c" && ok || bad "$c --help: $out"
  [ "$("$bin" "$c" -h 2>/dev/null)" = "$out" ] && ok || bad "$c -h differs from --help"
  [ "$("$bin" help "$c" 2>/dev/null)" = "$out" ] && ok || bad "help $c differs from $c --help"
  err=$("$bin" "$c" --no-such-option 2>&1 >/dev/null)
  rc=$?
  [ "$rc" -eq 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q "^retrace $c.*--no-such-option" && ok ||
    bad "$c --no-such-option: rc $rc: $err"
done

# Every command shares the parser's footer.
for c in generate train pretrain eval dataset gen merge inspect tokenize tokenizer-train demo version memory env serve \
  convert export bench report; do
  "$bin" "$c" --help | grep -q "^common options: -h, --help; -q, --quiet" && ok || bad "$c --help lacks the common options"
done
for c in generate train pretrain eval dataset merge demo serve export; do
  "$bin" "$c" --help | grep -q -- "-t, --threads N" && ok || bad "$c --help lacks -t/--threads"
done

# Subcommands: each has its own --help (not the group's), -h the same, and its own one-line errors.
for sub in memory:init memory:add memory:search memory:docs memory:stats memory:check memory:rebuild memory:export \
  memory:embed env:play env:serve env:check; do
  g=${sub%%:*} s=${sub#*:}
  out=$("$bin" "$g" "$s" --help 2>&1) && echo "$out" | grep -q "^usage: retrace $g $s" &&
    echo "$out" | grep -q "^common options: -h, --help" && ok || bad "$g $s --help: $out"
  [ "$("$bin" "$g" "$s" -h 2>/dev/null)" = "$out" ] && ok || bad "$g $s -h differs from --help"
  err=$("$bin" "$g" "$s" --no-such-option 2>&1 >/dev/null)
  rc=$?
  [ "$rc" -eq 2 ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] &&
    echo "$err" | grep -q "^retrace $g $s: unknown option '--no-such-option'" && ok || bad "$g $s --no-such-option: rc $rc: $err"
done
# `memory SUB --help` is that subcommand's alone: init's help does not list search's options.
! "$bin" memory init --help | grep -q -- "--negatives" && ok || bad "memory init --help prints the whole group's"
for g in memory env; do
  err=$("$bin" "$g" 2>&1 >/dev/null); rc=$?
  [ "$rc" -eq 2 ] && echo "$err" | grep -q "^retrace $g: missing the subcommand" && ok || bad "$g alone: rc $rc: $err"
done

# Errors name the option as the user spelled it.
expect() { # NAME EXPECTED_RC PATTERN -- CMD...
  local name=$1 want=$2 pat=$3; shift 4
  local err rc
  err=$("$@" 2>&1 >/dev/null); rc=$?
  [ "$rc" -eq "$want" ] && echo "$err" | grep -q -- "$pat" && ok || bad "$name: rc $rc: $err"
}
expect needs-value 2 "retrace generate: --model needs a value" -- "$bin" generate --model
expect short-needs-value 2 "retrace generate: -m needs a value" -- "$bin" generate -m
expect not-int 2 "retrace generate: -n: 'x' is not an integer" -- "$bin" generate -m m -n x
expect range 2 "retrace generate: --max-new-tokens must be at least 1 (got 0)" -- "$bin" generate -m m --max-new-tokens=0
expect attached-range 2 "retrace generate: -n must be at least 1 (got 0)" -- "$bin" generate -m m -n0
expect flag-value 2 "retrace generate: --chat takes no value" -- "$bin" generate --chat=yes
expect extra-arg 2 "retrace generate: unexpected argument 'x'" -- "$bin" generate x
expect threads 2 "retrace train: -t must be between 1 and 4096 (got 0)" -- "$bin" train -t0
expect quiet-verbose 2 "contradict" -- "$bin" version -qv
expect short-unknown 2 "retrace generate: unknown option '-Z'" -- "$bin" generate -Z
expect preset 2 "--preset must be paper or tiny" -- "$bin" train --preset=huge -m a --data b -o c

expect memory-range 2 "retrace memory search: --weight must be between 0 and 1 (got 2)" -- "$bin" memory search d q --weight=2
expect memory-args 2 "retrace memory init: expects 1 argument, got 0" -- "$bin" memory init -q
expect env-seed 2 "retrace env play: -s must be at least 0" -- "$bin" env play --env household -s-1
expect serve-port 2 "retrace serve: --port must be between 0 and 65535 (got 70000)" -- "$bin" serve d --port=70000
expect export-type 2 "retrace export: --type: unknown GGUF tensor type 'q4_k'" -- "$bin" export -m d -o x.gguf --type=q4_k
expect convert-twice 2 "retrace convert: give the model once" -- "$bin" convert a.gguf -m b.gguf -o d

# GNU forms and -q on the converted commands: memory init DIR -q is silent, the options as --opt=value.
"$bin" memory init "$tmp/mem" -q --M=8 --ef=20 2>"$tmp/err" && [ ! -s "$tmp/err" ] && ok || bad "memory init -q: $(cat "$tmp/err")"
printf '{"id":"e1","env":"x","task":"open the fridge","outcome":"success","reward":1,"steps":[]}\n' >"$tmp/ep.jsonl"
"$bin" memory add -q "$tmp/mem" "$tmp/ep.jsonl" 2>"$tmp/err" && [ ! -s "$tmp/err" ] && ok || bad "memory add -q: $(cat "$tmp/err")"
"$bin" memory search "$tmp/mem" "open the fridge" -k1 --weight=0.5 --json | grep -q '"id":"e1"' && ok || bad "memory search -k1 --weight="
"$bin" memory stats --json -- "$tmp/mem" | grep -q '"episodes":1' && ok || bad "memory stats with --"
echo ":quit" | "$bin" env play --env=household -s3 --max-steps=5 | head -1 | grep -q "seed 3, budget 5 steps" && ok ||
  bad "env play GNU forms"

# A model folder with a tokenizer (the llama fixture and a 300-id BPE for it) to run generate on.
cp -r "$fx/models/llama/model" "$tmp/model"
"$bin" tokenizer-train --vocab=300 --special='<s>' --special '</s>' --bos '<s>' --eos='</s>' \
  --output="$tmp/model" -- "$fx/tok/train_corpus.txt" >/dev/null 2>&1 && ok || bad "tokenizer-train with GNU forms"

# The same greedy run spelled four ways gives the same text.
ref=$("$bin" generate --model "$tmp/model" --prompt "the cat" --max-new 8 2>/dev/null)
[ -n "$ref" ] || bad "generate printed nothing"
a1=$("$bin" generate -m "$tmp/model" -p "the cat" -n 8 2>/dev/null)
a2=$("$bin" generate --model="$tmp/model" --prompt="the cat" --max-new-tokens=8 --temp 0 -t1 2>/dev/null)
a3=$("$bin" generate -m"$tmp/model" -n8 --n-predict 8 --threads=1 -q -- 2>/dev/null <<<"the cat")
for v in "$a1" "$a2"; do [ "$v" = "$ref" ] && ok || bad "alias spelling gave '$v', not '$ref'"; done
# From stdin the prompt ends with a newline, so only check it ran.
[ -n "$a3" ] && ok || bad "generate with the prompt on stdin after --"
# Sampling spelled llama.cpp's way equals retrace's spelling.
s1=$("$bin" generate -m "$tmp/model" -p "the cat" -n 8 --temp 0.8 --top-p 0.9 -s 5 2>/dev/null)
s2=$("$bin" generate --model "$tmp/model" --prompt "the cat" --max-new 8 --temperature 0.8 --top-p=0.9 --seed=5 2>/dev/null)
[ "$s1" = "$s2" ] && ok || bad "sampling aliases differ: '$s1' vs '$s2'"
# --top-k 1 is greedy at any temperature and seed; --top-k 0 is off (the same as not giving it).
k1=$("$bin" generate -m "$tmp/model" -p "the cat" -n 8 --temp 1.5 --top-k 1 -s 3 2>/dev/null)
[ "$k1" = "$ref" ] && ok || bad "--top-k 1 gave '$k1', greedy '$ref'"
k0=$("$bin" generate -m "$tmp/model" -p "the cat" -n 8 --temp 0.8 --top-p 0.9 -s 5 --top-k=0 2>/dev/null)
[ "$k0" = "$s1" ] && ok || bad "--top-k 0 changed sampling: '$k0' vs '$s1'"
expect top-k 2 "retrace generate: --top-k must be at least 0 (got -1)" -- "$bin" generate -m m --top-k=-1

# --quiet leaves stderr empty on success; --verbose does not break a run.
"$bin" pretrain --steps 2 --seq 16 --batch 2 --hidden 16 --layers 1 --heads 2 --kv-heads 1 --intermediate 32 \
  --vocab 300 -t 1 --quiet -o "$tmp/pt" >/dev/null 2>"$tmp/err" && [ ! -s "$tmp/err" ] && ok ||
  bad "pretrain --quiet wrote to stderr: $(head -c 300 "$tmp/err")"
"$bin" inspect --verbose "$tmp/model" >/dev/null && ok || bad "inspect --verbose"
"$bin" inspect -m "$tmp/model" --lora="$fx/models/llama/adapter" | grep -q "^adapter:" && ok || bad "inspect -m --lora="

# Hugging Face's training spellings (TRL/transformers) are accepted by train.
printf '{"prompt": "a", "completion": " b"}\n' >"$tmp/d.jsonl"
"$bin" train --model_name_or_path 2>&1 | grep -q "unknown option '--model_name_or_path'" && ok || bad "an unknown HF name is an error"
"$bin" train -m "$tmp/model" --dataset "$tmp/d.jsonl" --output_dir "$tmp/run" --max_steps 1 --learning_rate 1e-3 \
  --lora_alpha 8 -r 4 --preset tiny -t 1 -q >/dev/null 2>"$tmp/err" && grep -q '"lora_alpha": 8' "$tmp/run/adapter/adapter_config.json" &&
  grep -q '"r": 4' "$tmp/run/adapter/adapter_config.json" && ok || bad "train with HF spellings: $(cat "$tmp/err")"

finish
