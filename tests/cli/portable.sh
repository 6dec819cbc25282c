#!/usr/bin/env bash
# A portable build gives the same results with its fast paths forced off: RETRACE_SIMD=scalar caps the
# kernels picked at run time (the distance kernels) and the memory must retrieve the same episodes in the
# same order with the same scores (to 5 decimals). Where qemu-user is installed, the binary also runs on
# an emulated x86-64 without AVX (Nehalem: SSE4.2) with the same results: memory search and greedy
# generation. (qemu's default qemu64 CPU makes OpenBLAS pick a kernel with 3DNow!, which qemu lacks.)
# A -march=native build of an AVX machine dies there with SIGILL on `retrace version`.
# Args: RETRACE_BIN FIXTURES_DIR
. "$(dirname "$0")/../cli_common.sh"

if ! "$bin" version | grep -q "^build: portable"; then
  echo "skip: this build is native (-DRT_NATIVE=ON); the portable checks need the default build"
  echo "0 passed, 0 failed"; exit 0
fi
RETRACE_SIMD=scalar "$bin" version | grep -q "^distance kernels: scalar" && ok || bad "RETRACE_SIMD=scalar not in force"
RETRACE_SIMD=sse9 "$bin" version 2>"$tmp/err"; [ $? -eq 2 ] && grep -q "RETRACE_SIMD must be" "$tmp/err" && ok ||
  bad "a bad RETRACE_SIMD was accepted"

"$bin" gen --env household --episodes 60 --policy noisy -o "$tmp/eps.jsonl" >/dev/null 2>&1 || bad "gen"
"$bin" memory init "$tmp/mem" >/dev/null 2>&1 && "$bin" memory add "$tmp/mem" "$tmp/eps.jsonl" >/dev/null 2>&1 || bad "memory"
# id and score (5 decimals) of each hit, for a few queries
hits() {
  for q in "put a hot apple in the fridge" "look at the book under the lamp" "put two mugs in the cabinet"; do
    "$@" memory search "$tmp/mem" "$q" -k 5 --negatives 2 --json |
      python3 -c 'import json,sys
for l in sys.stdin:
    l = l.strip()
    if not l: continue
    o = json.loads(l)
    for h in o.get("hits", []) + o.get("negatives", []):
        print(h["id"], "%.5f" % h["score"])'
  done
}
hits "$bin" >"$tmp/fast"
RETRACE_SIMD=scalar hits "$bin" >"$tmp/scalar"
[ "$(wc -l <"$tmp/fast")" -ge 15 ] && ok || bad "too few hits: $(cat "$tmp/fast")"
cmp -s "$tmp/fast" "$tmp/scalar" && ok || bad "scalar kernels retrieve differently: $(diff "$tmp/fast" "$tmp/scalar" | head -5)"

# The whole binary on a CPU without AVX, emulated.
if command -v qemu-x86_64 >/dev/null && qemu-x86_64 -cpu Nehalem "$bin" version >"$tmp/qv" 2>&1; then
  grep -q "^distance kernels: scalar" "$tmp/qv" && ok || bad "under Nehalem: $(cat "$tmp/qv")"
  hits qemu-x86_64 -cpu Nehalem "$bin" >"$tmp/qemu"
  cmp -s "$tmp/fast" "$tmp/qemu" && ok || bad "Nehalem retrieves differently: $(diff "$tmp/fast" "$tmp/qemu" | head -5)"
  model_with_tokenizer "$tmp/model"
  a=$("$bin" generate -m "$tmp/model" -p "the cat" -n 12 2>/dev/null)
  b=$(qemu-x86_64 -cpu Nehalem "$bin" generate -m "$tmp/model" -p "the cat" -n 12 2>/dev/null)
  [ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "greedy generation under Nehalem: '$b' vs '$a'"
else
  echo "skip: qemu-user not installed (apt-get install qemu-user): the run on a CPU without AVX not checked"
fi

finish
