#!/usr/bin/env bash
# The GGUF tokenizer path on real vocabularies: the Llama 3, Qwen3 and Mistral tokenizers of ../shared
# written as vocabulary-only GGUF files (tools/make_gguf_fixtures.py --vocab-from, as llama.cpp's
# converter writes them: byte-level BPE with pre-tokenizers llama-bpe and qwen2, and Mistral's as
# SentencePiece, tokenizer.ggml.model `llama`, with scores) must encode the tokenizer corpus exactly as
# the `tokenizers` library encodes the original tokenizer.json (tests/fixtures/tok/*.ref.json) and,
# where llama-cpp-python is installed, exactly as llama.cpp encodes the same GGUF file.
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
for pair in llama3:llama-bpe qwen3:qwen2 mistral:spm; do
  name=${pair%%:*} pre=${pair#*:}
  if [ "$pre" = spm ]; then kind=(--spm); else kind=(--pre "$pre"); fi
  python3 "$root/tools/make_gguf_fixtures.py" --vocab-from "$shared/$name" "${kind[@]}" --out "$tmp/$name.gguf" 2>/dev/null
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
print(f"{gg}: {len(idx)} texts, {len(bad)} differ from the tokenizers library")
try:
    import llama_cpp
except ImportError:
    print("  llama.cpp not compared: llama-cpp-python is not installed")
    llama_cpp = None
if llama_cpp:
    llm = llama_cpp.Llama(model_path=gg, vocab_only=True, verbose=False)
    lc = [llm.tokenize(c.encode(), add_bos=False, special=True) for c in corpus]
    # Where the two peers disagree, retrace follows the original tokenizer (checked above): for
    # qwen2, llama.cpp applies no NFC and makes the plain vocabulary token "</s>" a control token.
    peer = [i for i in range(len(corpus)) if lc[i] != ref[i]]
    bad_lc = [i for k, i in enumerate(idx) if got[k] != " ".join(map(str, lc[i])) and i not in peer]
    print(f"  {len(bad_lc)} differ from llama.cpp where it agrees with the tokenizers library; "
          f"the two differ on {len(peer)} of {len(corpus)} texts: {peer[:8]}")
    bad += bad_lc
sys.exit(1 if bad or len(idx) < 40 else 0)
PY
  then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
