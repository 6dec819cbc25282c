#!/usr/bin/env bash
# The GGUF tokenizer path on real vocabularies: the Llama 3 and Qwen3 tokenizers of ../shared written
# as vocabulary-only GGUF files (tools/make_gguf_fixtures.py --vocab-from, as llama.cpp's converter
# writes them, pre-tokenizers llama-bpe and qwen2) must encode the tokenizer corpus exactly as the
# `tokenizers` library encodes the original tokenizer.json (tests/fixtures/tok/*.ref.json).
# Skips with a message without the `gguf` Python package or the shared tokenizers.
# Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fx=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
shared=$root/../shared/models/tokenizers
if ! python3 -c "import gguf" 2>/dev/null; then echo "skipped: the gguf Python package is not installed"; exit 0; fi
if [ ! -d "$shared/llama3" ]; then echo "skipped: $shared is missing"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
for pair in llama3:llama-bpe qwen3:qwen2; do
  name=${pair%%:*} pre=${pair#*:}
  python3 "$root/tools/make_gguf_fixtures.py" --vocab-from "$shared/$name" --pre "$pre" --out "$tmp/$name.gguf" 2>/dev/null
  if python3 - "$bin" "$tmp/$name.gguf" "$fx/tok/corpus.json" "$fx/tok/$name.ref.json" <<'PY'
import json, subprocess, sys
binary, gg, corpus, ref = sys.argv[1:]
corpus = json.load(open(corpus))
ref = json.load(open(ref))["encode"]
# `retrace tokenize` reads one text per line: the texts without line breaks (most of the corpus).
idx = [i for i, c in enumerate(corpus) if "\n" not in c and "\r" not in c and "\0" not in c]
text = "\n".join(corpus[i] for i in idx) + "\n"
got = subprocess.run([binary, "tokenize", "--tokenizer", gg], input=text.encode(), capture_output=True, check=True).stdout.decode().split("\n")
bad = [i for k, i in enumerate(idx) if got[k] != " ".join(map(str, ref[i]))]
print(f"{gg}: {len(idx)} texts, {len(bad)} differ from the reference")
sys.exit(1 if bad or len(idx) < 40 else 0)
PY
  then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
