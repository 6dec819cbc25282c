#!/usr/bin/env bash
# retrace report in a browser: tools/report_screenshot.sh lays the fixture's report out in headless
# Chromium at desktop (1280 px) and phone (390 px) widths; the screenshots are made, and nothing sticks
# out of the page at either width (the page's scrollWidth is the viewport's). Skips with the reason where
# chromium is not installed (a developer tool: apt-get install chromium). The screenshots are kept in
# $RT_TEST_ARTIFACTS when that is set (e.g. by CI), else in a temporary folder.
# Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$1
fixtures=$2
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then
  echo "skipped: chromium is not installed (apt-get install chromium), so the report is not checked in a browser"
  exit 0
fi
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
shots=${RT_TEST_ARTIFACTS:-$tmp}/report-screenshots
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

# A third folder: the bench fixture with labels far too long for any chart or heading, one without spaces.
cp -r "$fixtures/report_bench" "$tmp/long"
python3 - "$tmp/long/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["splits"][1]["label"] = "held-out task types with a label far too long to fit on one row of any legend " * 2
r["configs"][4]["label"] = "retrace_reward_weighted_dynamic_retrieval_with_negatives_and_versioned_docs" * 2
json.dump(r, open(sys.argv[1], "w"))
PY
for fixture in report_bench report long; do
  [ -d "$tmp/$fixture" ] || cp -r "$fixtures/$fixture" "$tmp/$fixture"
  "$bin" report "$tmp/$fixture" >/dev/null || { bad "$fixture: report failed"; continue; }
  out=$(bash "$here/tools/report_screenshot.sh" "$tmp/$fixture/report.html" "$shots/$fixture" 2>&1); rc=$?
  [ $rc -eq 0 ] && ok || { bad "$fixture: screenshot script: rc $rc $out"; continue; }
  for w in 1280 390; do
    # a PNG with the PNG signature, wider than it is nothing
    png="$shots/$fixture/report-$w.png"
    [ -s "$png" ] && [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] && ok ||
      bad "$fixture: no PNG at width $w"
    line=$(echo "$out" | grep "^width $w: ")
    scroll=$(echo "$line" | sed -n 's/.*scrollWidth \([0-9]*\).*/\1/p')
    client=$(echo "$line" | sed -n 's/.*clientWidth \([0-9]*\).*/\1/p')
    [ -n "$scroll" ] && [ "$scroll" -le "$client" ] && [ "$client" -ge $((w - 20)) ] && ok ||
      bad "$fixture: horizontal overflow at width $w: '$line'"
  done
done
echo "screenshots: $shots"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
