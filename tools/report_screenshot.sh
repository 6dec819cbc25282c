#!/usr/bin/env bash
# tools/report_screenshot.sh REPORT_HTML OUT_DIR: screenshots of a bench report in headless Chromium at
# desktop (1280 px) and phone (390 px) widths, and whether anything sticks out of the page at each.
# Writes OUT_DIR/report-1280.png and OUT_DIR/report-390.png (the whole page, at most 16000 px tall) and
# prints one line per width: "width W: scrollWidth S clientWidth C" (S > C: horizontal overflow).
# Headless Chromium will not make a window narrower than 500 px, so the page is laid out in an iframe
# of the wanted width inside a wrapper page (a viewport of that width: media queries apply); the PNG
# is then cut to that width where Python's PIL is installed (else the right of a phone shot is blank).
# A developer tool: needs `chromium` (Debian: apt-get install chromium); exits 3 when it is missing.
set -eu
if [ $# -ne 2 ]; then
  echo "usage: tools/report_screenshot.sh REPORT_HTML OUT_DIR" >&2
  exit 2
fi
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "report_screenshot: no chromium on PATH (Debian: apt-get install chromium)" >&2
  exit 3
fi
html=$(realpath "$1")
out=$2
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# As root headless Chromium needs --no-sandbox; the wrapper reads the iframe's document, which file://
# pages may only do with --allow-file-access-from-files. The report itself has no script.
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --disable-extensions
       --allow-file-access-from-files --user-data-dir="$tmp/profile" --virtual-time-budget=5000)

# wrapper WIDTH HEIGHT: a page holding the report in an iframe of that size; its title says the
# report's laid-out size once loaded.
wrapper() {
  cat <<EOF
<!DOCTYPE html><html><head><title>loading</title></head><body style="margin:0">
<iframe id="r" src="file://$html" width="$1" height="$2" style="border:0;display:block"></iframe>
<script>window.onload = function () {
  var e = document.getElementById("r").contentDocument.documentElement;
  document.title = "W" + e.scrollWidth + "x" + e.scrollHeight + "c" + e.clientWidth;
};</script></body></html>
EOF
}

for w in 1280 390; do
  win=$((w < 500 ? 500 : w))
  wrapper "$w" 900 > "$tmp/probe.html"
  size=$("$browser" "${flags[@]}" --window-size="$win,900" --dump-dom "file://$tmp/probe.html" 2>/dev/null |
         sed -n 's|.*<title>W\([0-9]*\)x\([0-9]*\)c\([0-9]*\)</title>.*|\1 \2 \3|p' | head -n 1)
  if [ -z "$size" ]; then
    echo "report_screenshot: chromium did not lay out $html at width $w" >&2
    exit 1
  fi
  read -r scroll_w height client_w <<<"$size"
  [ "$height" -gt 16000 ] && height=16000
  wrapper "$w" "$height" > "$tmp/shot.html"
  png="$out/report-$w.png"
  rm -f "$png"
  "$browser" "${flags[@]}" --window-size="$win,$height" --screenshot="$png" "file://$tmp/shot.html" >/dev/null 2>&1 || true
  [ -s "$png" ] || { echo "report_screenshot: no screenshot at width $w" >&2; exit 1; }
  if [ "$win" -ne "$w" ] && python3 -c "import PIL" 2>/dev/null; then
    python3 -c "import sys; from PIL import Image; im = Image.open(sys.argv[1]); im.crop((0, 0, int(sys.argv[2]), im.height)).save(sys.argv[1])" "$png" "$w"
  fi
  echo "width $w: scrollWidth $scroll_w clientWidth $client_w"
done
