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
assert cells[-7:] == ["20.0%", "7.0\u201345.2%", "16.8", "0.4%", "3/15", "0.20", "n/a"], cells
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

# The bench schema (tests/fixtures/report_bench): every number on the page equals results.json's, every
# piece of data is escaped, the page is valid (tidy where installed) and self-contained.
cp -r "$fixtures/report_bench" "$tmp/rb"
"$bin" report "$tmp/rb" >/dev/null 2>"$tmp/err" && ok || bad "bench schema: $(cat "$tmp/err")"
python3 - "$tmp/rb" <<'PY' && ok || bad "bench schema page does not match results.json"
import json, os, sys, xml.etree.ElementTree as ET
d = sys.argv[1]
r = json.load(open(os.path.join(d, "results.json")))
text = open(os.path.join(d, "report.html"), encoding="utf-8").read()
root = ET.fromstring(text.split("\n", 1)[1])
def spans(el):
    return {s.get("class"): "".join(s.itertext()) for s in el.iter("span")}
def check_summary(el, cell, where):
    got = spans(el)
    assert got["rate"] == "%.1f%%" % (100 * cell["success_rate"]), (where, got)
    assert got["ci"] == "[%.1f\u2013%.1f]" % (100 * cell["ci_low"], 100 * cell["ci_high"]), (where, got)
    assert got["kn"] == "%d/%d" % (cell["successes"], cell["episodes"]), (where, got)
    for key, cls, fmt in (("mean_reward", "reward", "%.2f"), ("retrieval_same_type", "same", "%.1f%%")):
        value = cell.get(key)
        want = None if value is None else fmt % (100 * value if cls == "same" else value)
        assert got.get(cls) == want, (where, cls, got)
# the compact table: one cell per configuration and split, in results.json's order
compact = root.find(".//table[@class='compact']")
tds = compact.findall(".//td[@data-config]")
assert len(tds) == len(r["configs"]) * len(r["splits"]), len(tds)
rows = [("".join(th.itertext())) for th in compact.findall(".//th[@scope='row']")]
assert rows == ["(%s) %s" % (c["id"], c["label"]) for c in r["configs"]], rows
for td in tds:
    check_summary(td, r["cells"][td.get("data-config")][td.get("data-split")], td.attrib)
# the paired tests, in results.json's order
trs = root.findall(".//table[@class='tests']/tbody/tr")
assert len(trs) == len(r["tests"])
for tr, t in zip(trs, r["tests"]):
    cells = ["".join(td.itertext()) for td in tr.findall("td")]
    assert cells[0] == "(e) vs (%s)" % t["versus"] and tr.get("data-split") == t["split"], cells
    assert cells[2:] == [str(t["pairs"]), str(t["e_only"]), str(t["other_only"]), "%.4g" % t["p"]], cells
# the index ablation
abl = root.findall(".//table[@class='ablation']/tbody/tr")
assert [tr.get("data-ablation") for tr in abl] == [x["id"] for x in r["index_ablation"]["rows"]]
for tr, x in zip(abl, r["index_ablation"]["rows"]):
    check_summary(tr, x["cell"], x["id"])
# success by task type: every type of every cell
n = 0
for table in root.findall(".//table[@class='bytype']"):
    split = table.get("data-split")
    for tr in table.findall(".//tr[@data-type]"):
        tds = tr.findall("td")[1:]
        for c, td in zip(r["configs"], tds):
            t = r["cells"][c["id"]][split].get("success_by_type", {}).get(tr.get("data-type"))
            got = spans(td)
            if t is None:
                assert got == {"na": "n/a"}, got
            else:
                assert got["kn"] == "%d/%d" % (t["successes"], t["episodes"]), got
                assert got["sub"] == "%.0f%%" % (100 * t["success_rate"]), got
                n += 1
assert n == sum(len(x.get("success_by_type", {})) for row in r["cells"].values() for x in row.values()), n
# (c) beside (e): the seed (e) solved and (c) did not (202), both columns
cols = root.findall(".//div[@class='pair']/div[@class='col']")
assert len(cols) == 2
heads = ["".join(p.itertext()) for col in cols for p in col.findall("p[@class='ephead']")]
assert all("seed 202," in h for h in heads) and "failure" in heads[0] and "success" in heads[1], heads
# a retrieved-context example names the retrieved ids and shows the retrieved episode from hh_expert.jsonl
assert "hh-train-001" in text and "heat some &lt;egg&gt; &amp; put it in fridge." in text
# escaping: nothing from the data becomes markup
assert "<script" not in text and "<b>apple" not in text and "<egg>" not in text and "<knife>" not in text
assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "&lt;i&gt;kept&lt;/i&gt;" in text
assert "AMD EPYC &lt;test&gt; &amp; co" in text
# self-contained: no URL but the SVG namespace, nothing loaded; links only to files of the folder
assert text.count("http") == text.count('xmlns="http://www.w3.org/2000/svg"') and "url(" not in text
assert not root.findall(".//*[@src]") and not root.findall(".//link")
hrefs = [a.get("href") for a in root.iter("a")]
assert hrefs and all("/" not in h and h.endswith(".jsonl") for h in hrefs), hrefs
assert "episodes_e_unseen_task.jsonl" in hrefs
PY
# Written elsewhere (-o), the links point into the bench folder by its absolute path.
"$bin" report "$tmp/rb" -o "$tmp/elsewhere.html" >/dev/null 2>&1 &&
  grep -q "<a href=\"$tmp/rb/episodes_e_unseen_task.jsonl\">" "$tmp/elsewhere.html" &&
  ! grep -q '<a href="episodes_' "$tmp/elsewhere.html" && ok || bad "links of a report written elsewhere"
if command -v tidy >/dev/null; then
  tidy -q -e "$tmp/rb/report.html" >"$tmp/tidy" 2>&1 && ok || bad "tidy: $(head -5 "$tmp/tidy")"
  tidy -q -e "$tmp/r.html" >"$tmp/tidy" 2>&1 && ok || bad "tidy (old schema): $(head -5 "$tmp/tidy")"
else
  echo "skipped: tidy is not installed (the HTML validity check)"
fi

# Missing fields: results.json without any of the bench's newer fields, and without episode files: the
# page is made, the parts with no data are left out, the table is still there.
python3 - "$tmp/rb/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("tests", "index_ablation", "seeds", "machine", "commit", "embedder", "training", "retrieval", "base", "stages"):
    r.pop(k)
for c in r["configs"]:
    c.pop("episode_files", None)
for row in r["cells"].values():
    for cell in row.values():
        for k in ("success_by_type", "mean_reward", "retrieval_same_type", "episodes_file", "mcnemar", "adapter", "memory", "retrieval"):
            cell.pop(k, None)
json.dump(r, open(sys.argv[1], "w"))
PY
rm "$tmp"/rb/*.jsonl
"$bin" report "$tmp/rb" -o "$tmp/sparse.html" >/dev/null 2>"$tmp/err" && ok || bad "sparse results: $(cat "$tmp/err")"
for gone in "Paired tests" "Index ablation" "Success by task type" "Retrieved context" "beside (e)" "Episode files" \
            "reward <span" "same type" "<h3>Configurations"; do
  grep -q "$gone" "$tmp/sparse.html" && bad "sparse page still has '$gone'" || ok
done
grep -q '<span class="kn">41/60</span>' "$tmp/sparse.html" && grep -q "How it was run" "$tmp/sparse.html" && ok ||
  bad "sparse page lost the table"
# Episode files named but absent: the links say so and the examples are n/a, still no error.
cp "$fixtures/report_bench/results.json" "$tmp/rb/results.json"
"$bin" report "$tmp/rb" -o "$tmp/noeps.html" >/dev/null 2>"$tmp/err" && grep -q "(not in the folder)" "$tmp/noeps.html" &&
  grep -q "n/a: no episode file of this configuration could be read" "$tmp/noeps.html" &&
  ! grep -q "beside (e)" "$tmp/noeps.html" && ok || bad "absent episode files: $(cat "$tmp/err")"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
