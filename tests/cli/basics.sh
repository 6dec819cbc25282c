#!/usr/bin/env bash
# The binary's help, version and one-line usage errors. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
"$bin" --help | grep -q "usage: retrace COMMAND" || fail "--help does not print usage"
"$bin" version | grep -q "^retrace [0-9]" || fail "version does not print the version"
"$bin" no-such-command 2>/dev/null && fail "an unknown command exits 0"
err=$("$bin" no-such-command 2>&1 >/dev/null)
[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "an unknown command prints more than one line: $err"
"$bin" 2>/dev/null && fail "no command exits 0"
echo "1 passed, 0 failed"
