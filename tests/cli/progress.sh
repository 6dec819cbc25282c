#!/usr/bin/env bash
# Progress (src/base/log.c): redrawn in place on a terminal; in a pipe, a heartbeat line per minute (every
# update with RETRACE_HEARTBEAT_S=0, which this test uses to see the lines); nothing with --quiet. `dataset`
# shows its progress over the episodes of --from. Args: RETRACE_BIN FIXTURES_DIR
. "$(dirname "$0")/../cli_common.sh"

# In a pipe (stderr to a file): plain whole lines, no carriage returns or escape codes.
RETRACE_HEARTBEAT_S=0 "$bin" gen --env household --episodes 5 -o "$tmp/eps.jsonl" >/dev/null 2>"$tmp/err" || bad "gen"
[ "$(grep -c '^gen [1-5]/5 ([ 0-9]*%)' "$tmp/err")" -eq 5 ] && ok || bad "heartbeat lines: $(cat -A "$tmp/err" | head -5)"
grep -q $'\r\|\033' "$tmp/err" && bad "a pipe got terminal control codes: $(cat -A "$tmp/err" | head -3)" || ok
# The default interval is a minute: a short run in a pipe prints no progress line at all.
"$bin" gen --env household --episodes 5 -o "$tmp/eps.jsonl" >/dev/null 2>"$tmp/err"
grep -q "^gen [0-9]" "$tmp/err" && bad "a short run printed heartbeats: $(head -3 "$tmp/err")" || ok
RETRACE_HEARTBEAT_S=0 "$bin" gen --env household --episodes 5 -q -o "$tmp/eps.jsonl" >/dev/null 2>"$tmp/err"
[ ! -s "$tmp/err" ] && ok || bad "--quiet printed: $(head -3 "$tmp/err")"

# dataset counts the episodes of --from and ends at 100%.
"$bin" gen --env household --episodes 6 -o "$tmp/eps.jsonl" >/dev/null 2>&1
model_with_tokenizer "$tmp/model"
RETRACE_HEARTBEAT_S=0 "$bin" dataset --no-retrieval --from "$tmp/eps.jsonl" --tokenizer "$tmp/model" -o "$tmp/sft.jsonl" \
  >/dev/null 2>"$tmp/err" || bad "dataset: $(cat "$tmp/err")"
grep -q "^dataset 6/6 (100%) .*[0-9]* examples" "$tmp/err" && ok || bad "dataset progress: $(cat "$tmp/err")"

# On a terminal the line is redrawn in place and ends at 100%.
if command -v script >/dev/null; then
  script -qec "'$bin' dataset --no-retrieval --from '$tmp/eps.jsonl' --tokenizer '$tmp/model' -o '$tmp/sft2.jsonl'" /dev/null >"$tmp/tty"
  grep -q $'\r\033\\[Kdataset 6/6 (100%)' "$tmp/tty" && ok || bad "terminal progress: $(cat -A "$tmp/tty" | head -5)"
else
  echo "skip: script(1) not installed, the terminal line not checked"
fi

# memory add counts episodes (lines, not bytes) and ends at 100%, from a file and from stdin.
"$bin" memory init "$tmp/mem" -q || bad "memory init -q"
RETRACE_HEARTBEAT_S=0 "$bin" memory add "$tmp/mem" "$tmp/eps.jsonl" 2>"$tmp/err" >/dev/null || bad "memory add: $(cat "$tmp/err")"
[ "$(grep -c '^adding [0-9]*/6 ' "$tmp/err")" -eq 6 ] && tail -n 2 "$tmp/err" | head -1 | grep -q "^adding 6/6 (100%)" && ok ||
  bad "memory add progress: $(cat "$tmp/err")"
RETRACE_HEARTBEAT_S=0 "$bin" memory add "$tmp/mem" - <"$tmp/eps.jsonl" 2>"$tmp/err" >/dev/null &&
  grep -q "^adding 6/6 (100%)" "$tmp/err" && ok || bad "memory add from stdin: $(cat "$tmp/err")"
if command -v script >/dev/null; then
  script -qec "'$bin' memory add '$tmp/mem' '$tmp/eps.jsonl'" /dev/null >"$tmp/tty"
  grep -q $'\r\033\\[Kadding 6/6 (100%)' "$tmp/tty" && ok || bad "memory add terminal progress: $(cat -A "$tmp/tty" | head -5)"
fi

finish
