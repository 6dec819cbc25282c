#!/usr/bin/env bash
# schemathesis (from PyPI) against docs/openapi.yaml and a server with a tiny model and an API key: a
# bounded number of generated requests per operation (examples, coverage, fuzzing, stateful phases),
# every check on: no 5xx, no crash, status codes, content types and bodies as documented, auth
# enforced, invalid data rejected, valid data accepted. Skips with a reason where schemathesis is
# missing. Args: RETRACE_BIN FIXTURES_DIR
#
# Two checks are left out. positive_data_acceptance: an integer beyond 64 bits anywhere in an episode
# (e.g. deep in `meta`) is rejected with a 400 naming it (the store's JSON parser, jansson, holds
# integers in 64 bits), and OpenAPI 3.0 cannot say so of a free-form object. ensure_resource_availability: its stateful links put a created id into the
# path without percent-encoding it, so an id holding "%1B" is asked for as byte 0x1B (RFC 3986 wants
# "%251B"); the server is right to answer 404. And NUL bytes are not generated: the server rejects them
# (400; JSON object keys with NUL cannot be represented by jansson), as docs/serve.md says.
set -u
bin=$1
here="$(cd "$(dirname "$0")/../serve" && pwd)"
spec="$(cd "$(dirname "$0")/../../docs" && pwd)/openapi.yaml"
. "$here/common.sh"
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 0; }
st=$(command -v schemathesis) || { echo "SKIP: schemathesis is not installed (pip install schemathesis)"; exit 0; }
# Opt-in until its last findings are understood (docs/serve.md, "Not done"): two minutes of fuzzing.
[ "${RETRACE_SCHEMATHESIS:-0}" = 1 ] || { echo "SKIP: set RETRACE_SCHEMATHESIS=1 to run schemathesis (about 2 minutes)"; exit 0; }

make_memory "$tmp/mem" && make_model "$tmp/p" && ok || bad "memory or model"
printf 'st-key\n' > "$tmp/key"
export OMP_NUM_THREADS=1
start_server "$tmp/mem" --model "$tmp/p/model" --api-key-file "$tmp/key" --threads 1 && ok || bad "server: $(cat "$tmp/serve.err")"
(cd "$tmp" && timeout 600 "$st" run "$spec" -u "$URL" -H "Authorization: Bearer st-key" --max-examples "${SCHEMATHESIS_EXAMPLES:-15}" \
    --max-time "${SCHEMATHESIS_SECONDS:-120}" --seed 1 --workers 2 --checks all --exclude-checks ensure_resource_availability,positive_data_acceptance \
    --request-timeout 30 --generation-allow-x00 false --no-color > "$tmp/st.txt" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then tail -12 "$tmp/st.txt"; ok; else sed -n '/FAILURES\|ERRORS/,$p' "$tmp/st.txt" | grep -v '^$\|^ *st replay\|^Reproduce with\|^ *|' | head -150; bad "schemathesis found failures (exit $rc)"; fi
kill -0 $SERVE_PID 2>/dev/null && ok || bad "the server died"
stop_server && ok || bad "SIGTERM exit status"
"$bin" memory check "$tmp/mem" > "$tmp/check.txt" 2>&1 && ok || bad "memory check after the run: $(cat "$tmp/check.txt")"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
