# cli_common.sh: sourced by the tests/cli/*.sh scripts that want it (args: RETRACE_BIN FIXTURES_DIR): the
# binary and fixtures as absolute paths, a temporary folder removed at exit, the pass/fail counters.
set -u
bin=$(realpath "$1")
fx=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
# The counts line every CLI test ends with, and the exit status.
finish() { echo "$passed passed, $failed failed"; [ $failed -eq 0 ]; }
# model_with_tokenizer DIR [tokenizer-train options]: the llama fixture (320 ids) with a 300-id byte-level
# BPE trained for it on the fixture corpus.
model_with_tokenizer() {
  local dir=$1; shift
  cp -r "$fx/models/llama/model" "$dir"
  "$bin" tokenizer-train --vocab 300 "$@" -o "$dir" "$fx/tok/train_corpus.txt" >/dev/null 2>&1 || bad "tokenizer-train $*"
}
