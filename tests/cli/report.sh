#!/usr/bin/env bash
# retrace report: the HTML report of the fixture bench folder (default and -o output, well-formed,
# self-contained), usage errors, bad input, and atomic writes. Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fixtures=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

cp -r "$fixtures/report" "$tmp/bench"
out=$("$bin" report "$tmp/bench" 2>"$tmp/err"); rc=$?
[ $rc -eq 0 ] && [ "$out" = "report: $tmp/bench/report.html" ] && [ -s "$tmp/bench/report.html" ] && ok ||
  bad "default output: rc $rc '$out' $(cat "$tmp/err")"
"$bin" report "$tmp/bench" -o "$tmp/r.html" >/dev/null 2>&1 && cmp -s "$tmp/r.html" "$tmp/bench/report.html" && ok ||
  bad "-o gives another page"
# Well-formed XML, one svg per chart, the escaped label, no script and no URL but the SVG namespace.
python3 - "$tmp/r.html" <<'PY' && ok || bad "page malformed or not self-contained"
import sys, xml.etree.ElementTree as ET
text = open(sys.argv[1], encoding="utf-8").read()
root = ET.fromstring(text.split("\n", 1)[1])  # after the doctype line
svg = "{http://www.w3.org/2000/svg}svg"
assert len(root.findall(".//" + svg)) == 5, "expected 5 charts"
assert "<script" not in text and text.count("http") == text.count('xmlns="http://www.w3.org/2000/svg"')
assert 'retrace &lt;dynamic&gt; &amp; &quot;negatives&quot;' in text and "<dynamic>" not in text
rows = root.findall(".//tr[@data-config='c'][@data-split='unseen_task']")
cells = [td.text for td in rows[0].findall("td")]
assert cells[-7:] == ["20.0%", "7.0\u201345.2%", "16.8", "0.4%", "3/15", "n/a", "n/a"], cells
PY
ls "$tmp/bench" | grep -q '\.tmp\.' && bad "temporary file left" || ok

# Usage errors: exit 2 with one line.
"$bin" report --help | grep -q "usage: retrace report BENCH_DIR" && ok || bad "--help"
for args in "" "$tmp/bench --bogus" "$tmp/bench $tmp/other" "$tmp/bench -o"; do
  err=$("$bin" report $args 2>&1 >/dev/null); rc=$?
  [ $rc -eq 2 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && ok || bad "usage error '$args': rc $rc $err"
done

# Bad input: exit 1, one line naming what is wrong; an old report survives a failed run.
err=$("$bin" report "$tmp/nowhere" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q nowhere && ok ||
  bad "missing dir: rc $rc $err"
mkdir "$tmp/empty"
err=$("$bin" report "$tmp/empty" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "empty/results.json: no such file" && ok || bad "no results.json: rc $rc $err"
printf '{"configs": [{"id": "a"}' > "$tmp/bench/results.json"
err=$("$bin" report "$tmp/bench" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$(echo "$err" | wc -l)" -eq 1 ] && echo "$err" | grep -q "bench/results.json:1:.*invalid JSON" &&
  ok ||
  bad "malformed results.json: rc $rc $err"
cmp -s "$tmp/r.html" "$tmp/bench/report.html" && ok || bad "old report damaged by a failed run"
err=$("$bin" report "$fixtures/report" -o "$tmp/no/dir/r.html" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && echo "$err" | grep -q "no/dir/r.html" && [ ! -e "$tmp/no" ] && ok ||
  bad "unwritable output: rc $rc $err"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
