#!/usr/bin/env bash
# Golden outputs: `gen`, `dataset`, `eval` and `bench --quick` for fixed seeds, compared byte for byte with
# files made before the episode/dataset/agent restructuring (issue 13), so that moving code is shown to
# change no output. JSON summaries are compared without their timing fields (TIMING_FIELDS below: the
# only bytes that change from run to run; and the commit and machine, which results.json records) and with the work folder's path replaced by "WORK".
# Args: RETRACE_BIN FIXTURES_DIR [--update]   (--update rewrites FIXTURES_DIR/golden from this binary)
set -u
bin=$1
golden=$2/golden
update=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One thread everywhere: the sums of a multi-threaded sgemm are not bitwise reproducible.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive
TIMING_FIELDS="seconds retrieval_s decode_s commit machine"
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
run() { "$bin" "$@" > "$tmp/log" 2>&1 || { tail -5 "$tmp/log"; bad "retrace $*"; }; }

# A JSON file without its timing fields, keys in their order, the work folder's path as WORK.
strip() {
  python3 - "$1" "$2" "$tmp" "$TIMING_FIELDS" <<'PY'
import json, sys
src, dst, work, timing = sys.argv[1], sys.argv[2], sys.argv[3], set(sys.argv[4].split())
def clean(x):
    if isinstance(x, dict): return {k: clean(v) for k, v in x.items() if k not in timing}
    if isinstance(x, list): return [clean(v) for v in x]
    if isinstance(x, str): return x.replace(work, "WORK")
    return x
with open(dst, "w") as f: json.dump(clean(json.load(open(src))), f, indent=1); f.write("\n")
PY
}

mkdir -p "$tmp/out"
o=$tmp/out
# gen: household and toolapi, expert and noisy
run gen --env household --episodes 3 --seed 5 --policy expert -o "$o/gen_household_expert.jsonl"
run gen --env household --episodes 3 --seed 6 --policy noisy --noise 0.8 -o "$o/gen_household_noisy.jsonl"
run gen --env toolapi --episodes 3 --seed 7 --policy expert -o "$o/gen_toolapi_expert.jsonl" --docs "$tmp/docs.jsonl"
run gen --env toolapi --episodes 3 --seed 8 --policy noisy --noise 0.8 -o "$o/gen_toolapi_noisy.jsonl"
cat "$o"/gen_*.jsonl > "$tmp/all.jsonl"
# dataset: a memory of those episodes and the docs; with retrieval (dynamic and static) and without
run memory init "$tmp/mem"
run memory add "$tmp/mem" "$tmp/all.jsonl" "$tmp/docs.jsonl"
cat "$tmp/all.jsonl" "$tmp/docs.jsonl" > "$tmp/from.jsonl"
# a tiny model (and its BPE tokenizer) pretrained on the episodes: dataset counts tokens with it, eval runs it
run pretrain --episodes "$tmp/from.jsonl" --hidden 32 --layers 1 --heads 2 --kv-heads 1 --intermediate 64 --vocab 400 \
  --batch 4 --seq 64 --steps 10 --threads 1 -o "$tmp/p"
cp "$tmp/p/corpus.txt" "$o/pretrain_corpus.txt"
tokdir=$tmp/p/model
run dataset "$tmp/mem" --from "$tmp/from.jsonl" --tokenizer "$tokdir" --budget 400 --seed 3 -o "$o/dataset_dynamic.jsonl"
run dataset "$tmp/mem" --from "$tmp/from.jsonl" --tokenizer "$tokdir" --budget 400 --static --retrieve 1 \
  --negatives 0 --exclude-same-task --p-useful 0.5 -o "$o/dataset_static.jsonl"
run dataset --no-retrieval --from "$tmp/from.jsonl" --tokenizer "$tokdir" --budget 400 -o "$o/dataset_plain.jsonl"
# eval: the agent with and without the memory
common=(--model "$tmp/p/model" --episodes 3 --max-steps 4 --max-new 16 --budget 600 --threads 1)
run eval "${common[@]}" --env household --memory "$tmp/mem" -o "$o/eval_household.jsonl" --json "$tmp/eval_household.json"
run eval "${common[@]}" --env toolapi --memory "$tmp/mem" --static -o "$o/eval_toolapi.jsonl" --json "$tmp/eval_toolapi.json"
run eval "${common[@]}" --env household --no-retrieval --json "$tmp/eval_none.json"
for f in eval_household eval_toolapi eval_none; do strip "$tmp/$f.json" "$o/$f.json"; done
# bench --quick: every stage, results.json
run bench --quick -o "$tmp/b"
strip "$tmp/b/results.json" "$o/bench_quick_results.json"

if [ "$update" = "--update" ]; then
  rm -rf "$golden" && mkdir -p "$golden" && cp "$o"/* "$golden"/ && echo "golden files written to $golden"
  exit 0
fi
for f in "$golden"/*; do
  name=$(basename "$f")
  cmp -s "$f" "$o/$name" && ok || bad "$name differs from the golden file: $(diff "$f" "$o/$name" | head -5)"
done
[ "$(ls "$golden" | wc -l)" -ge 10 ] && ok || bad "golden files missing in $golden"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
