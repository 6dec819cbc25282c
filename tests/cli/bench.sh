#!/usr/bin/env bash
# retrace demo --quick = retrace bench --quick: the whole chain (gen, memories, pretrain, datasets, leak
# check, train, eval, report) at a toy scale. Checks every configuration and split of the paper's design,
# the same seeds in every configuration, the paired tests, the index ablation, results.json's fields;
# that a second run recomputes nothing and a run killed mid-evaluation recomputes only what is missing
# (and ends with the same episodes); that --check-leaks passes the bench's own training data and catches
# a planted held-out type, version-3 name and evaluation seed; and the option errors.
# Args: RETRACE_BIN FIXTURES_DIR
set -u
bin=$(realpath "$1")
fixtures=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

if ! "$bin" demo --quick -o "$tmp/b" > "$tmp/log" 2>&1; then
  tail -20 "$tmp/log"; bad "demo --quick"; finish
fi
python3 - "$tmp/b" "$tmp/log" <<'PY' && ok || bad "bench --quick results"
import json, os, sys
d, log = sys.argv[1], open(sys.argv[2]).read()
r = json.load(open(os.path.join(d, "results.json")))
configs = ["a", "b", "c", "c+r", "d", "e"]
assert [c["id"] for c in r["configs"]] == configs
assert [s["id"] for s in r["splits"]] == ["train", "unseen_task", "api_train", "unseen_api"]
seeds = r["seeds"]["episode_seeds"]
assert r["seeds"]["set"] == "test" and r["seeds"]["run_seed"] == 1000003 and len(seeds) == 2
for c in configs:
    for s, env, split in (("train", "household", "train"), ("unseen_task", "household", "unseen_task"),
                          ("api_train", "toolapi", "train"), ("unseen_api", "toolapi", "unseen_api")):
        x = r["cells"][c][s]
        assert x["episodes"] == 2 and 0 <= x["ci_low"] <= x["success_rate"] <= x["ci_high"] <= 1, (c, s, x)
        assert x["split"] == split and x["env"] == env, (c, s, x)
        assert sum(t["episodes"] for t in x["success_by_type"].values()) == 2, (c, s)
        eps = [json.loads(l) for l in open(os.path.join(d, x["episodes_file"]))]
        assert len(eps) == 2 and all(e["env"] == env for e in eps)
        assert [e["meta"]["seed"] for e in eps] == seeds, (c, s)  # the same episodes in every configuration
        if s == "unseen_task":  # held-out types only; the API version in force: 1-2 seen, 3 drifted
            assert set(x["success_by_type"]) <= {"pick_cool_then_place_in_recep", "pick_heat_then_place_in_recep",
                                                 "pick_two_obj_and_place"}, x["success_by_type"]
        if env == "toolapi":
            assert all((e["meta"]["api_version"] == 3) == (s == "unseen_api") for e in eps), (c, s)
        assert next(x for x in r["configs"] if x["id"] == c)["episode_files"][s] == x["episodes_file"]
cells = r["cells"]
for c in configs:  # retrieval quality: a share where the prompt had retrieved episodes, null where none
    for s in cells[c]:
        q = cells[c][s]["retrieval_same_type"]
        assert (q is None) if c in ("a", "c") else (0 <= q <= 1), (c, s, q)
assert cells["a"]["train"]["retrieval"] == "none" and cells["e"]["train"]["retrieval"] == "static"
assert cells["c+r"]["train"]["adapter"] == cells["c"]["train"]["adapter"] and cells["c+r"]["train"]["retrieval"] == "static"
assert cells["c"]["train"]["adapter"].endswith("c/adapter")
assert len(r["tests"]) == 12
for s in cells["e"]:
    for rival in ("c", "c+r", "b"):
        t = cells["e"][s]["mcnemar"][rival]
        assert t["pairs"] == 2 and 0 < t["p"] <= 1 and t["e_only"] + t["other_only"] <= 2, t
abl = r["index_ablation"]
assert abl["split"] == "unseen_task" and [x["id"] for x in abl["rows"]] == ["e", "e-noheld", "e-empty"]
assert abl["rows"][0]["cell"]["success_rate"] == cells["e"]["unseen_task"]["success_rate"]
assert abl["rows"][1]["cell"]["memory"].endswith("mem_train") and abl["rows"][2]["cell"]["memory"].endswith("mem_empty")
assert r["embedder"] == "hash" and r["commit"] and r["machine"]["cpu"] and r["retrieval"] == {"mode": "static", "k": "1"}
for name, f in r["loss_logs"].items():
    assert os.path.getsize(os.path.join(d, f)) > 0, name
for c in ("c", "d", "e"):  # each adapter's training reports a validation loss
    assert any("val_loss" in l for l in open(os.path.join(d, c, "loss.jsonl"))), c
assert "(e) retrace" in log and "drifted API (v3)" in log and "report.html" in log and "no leaks:" in log
assert "exact McNemar" in log and "index ablation" in log
html = open(os.path.join(d, "report.html")).read()
assert html.count("<svg") >= 2 and "retrace (reward, failures, docs)" in html
PY

# Resumable: the same command again computes nothing and leaves every result as it was.
md5() { (cd "$1" && md5sum eval_*.json episodes_*.jsonl); }
md5 "$tmp/b" > "$tmp/sums"
eps_md5() { (cd "$1" && md5sum episodes_*.jsonl); } # the summaries hold timings, the episodes do not
eps_md5 "$tmp/b" > "$tmp/eps_sums"
"$bin" bench --quick -o "$tmp/b" > "$tmp/log2" 2>&1 && grep -q "0 stages computed, 53 unchanged and kept" "$tmp/log2" &&
  md5 "$tmp/b" | cmp -s - "$tmp/sums" && ok || { tail -3 "$tmp/log2"; bad "second run recomputed something"; }

# Killed mid-evaluation (the whole process group), then run again: only the missing cells are computed,
# and the episodes are those of the uninterrupted run.
setsid "$bin" bench --quick -o "$tmp/k" > "$tmp/logk" 2>&1 &
pid=$!
for _ in $(seq 1 1500); do [ "$(ls "$tmp/k"/eval_*.json 2>/dev/null | wc -l)" -ge 4 ] && break; sleep 0.2; done
kill -9 -- "-$pid" 2>/dev/null; wait "$pid" 2>/dev/null
done_cells=$(ls "$tmp/k"/eval_*.json 2>/dev/null | wc -l)
if [ "$done_cells" -ge 4 ] && [ "$done_cells" -lt 26 ]; then
  "$bin" bench --quick -o "$tmp/k" > "$tmp/logk2" 2>&1
  computed=$(sed -n 's/.*; \([0-9]*\) stages computed, \([0-9]*\) unchanged and kept)/\1 \2/p' "$tmp/logk2")
  # exactly the cells missing at the kill (a cell whose child finished but whose rename did not
  # happen is recomputed too: at most the two that were running)
  set -- $computed
  [ "${1:-x}" != x ] && [ "$1" -ge $((26 - done_cells)) ] && [ "$1" -le $((28 - done_cells)) ] && [ $(($1 + $2)) -eq 53 ] &&
    eps_md5 "$tmp/k" | cmp -s - "$tmp/eps_sums" && ok || { tail -3 "$tmp/logk2"; bad "resume after kill: $done_cells cells done, then computed '$computed'"; }
else bad "the kill came at the wrong time ($done_cells cells done)"; fi

# --check-leaks: the bench's own training data is clean; planted leaks are caught, each by its rule.
"$bin" bench --check-leaks "$tmp/b" > "$tmp/leaks" 2>&1 && grep -q "no leaks:" "$tmp/leaks" && ok || { cat "$tmp/leaks"; bad "check-leaks on a clean bench"; }
plant() { # NAME FILE LINE: a copy of the bench folder's data with LINE appended to FILE
  rm -rf "$tmp/p" && mkdir "$tmp/p" && cp "$tmp/b"/*.jsonl "$tmp/b/plan.json" "$tmp/p/" && printf '%s\n' "$3" >> "$tmp/p/$2"
  err=$("$bin" bench --check-leaks "$tmp/p" 2>&1); rc=$?
  [ $rc -eq 1 ] && echo "$err" | grep -q "leak: $tmp/p/$2:" && echo "$err" | grep -q "$4" && ok || bad "planted $1 not caught (rc $rc): $err"
}
plant "held-out goal" sft_retrace.jsonl '{"id":"household-train-s17-000000#0","prompt":"Your task is to: heat some apple and put it in fridge.","completion":"go to fridge 1","task_type":"pick_clean_then_place_in_recep"}' "held-out type pick_heat"
v3=$(python3 -c 'import json,sys
old=set(); new={}
rows=[json.loads(l) for l in open(sys.argv[1])]
top={}
for d in rows: top[d["domain"]]=max(top.get(d["domain"],0),d["version"])
for d in rows: (new.__setitem__(d["tool"],1) if d["version"]==top[d["domain"]] else old.add(d["tool"]))
print(sorted(set(new)-old)[0])' "$tmp/b/ta_docs_all.jsonl")
plant "v3 tool" sft_plain.jsonl "{\"id\":\"toolapi-train-s18-000000#0\",\"prompt\":\"task\",\"completion\":\"$v3 {}\",\"task_type\":\"x\"}" "tool $v3, only in the newest"
"$bin" gen --env household --split unseen_task --episodes 1 --seed 99 -o "$tmp/held.jsonl" > /dev/null
plant "held-out episode" pretrain_episodes.jsonl "$(cat "$tmp/held.jsonl")" "held-out task type"
seed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["eval_seeds"]["test"]["seeds"][1])' "$tmp/b/plan.json")
line=$(head -1 "$tmp/b/hh_expert.jsonl" | python3 -c "import json,sys; e=json.loads(sys.stdin.read()); e['meta']['seed']=$seed; print(json.dumps(e))")
plant "evaluation seed" pretrain_episodes.jsonl "$line" "evaluation seed $seed (test run)"
plant "untraceable example" sft_plain.jsonl '{"id":"nowhere#3","prompt":"p","completion":"c"}' "in none of the source files"

# Option errors come before anything runs.
err=$("$bin" bench --eval-episodes 0 -o "$tmp/x" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "eval-episodes: .0. is not a count from 1" && [ ! -e "$tmp/x" ] && ok || bad "--eval-episodes 0: rc $rc $err"
err=$("$bin" bench --lr=-1 -o "$tmp/x" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "lr: '-1' is not a positive number" && [ ! -e "$tmp/x" ] && ok || bad "--lr=-1: rc $rc $err"
err=$("$bin" bench --scale real -o "$tmp/x" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "needs --base" && ok || bad "--scale real without --base: rc $rc $err"
err=$("$bin" bench --quick --base "$tmp/nowhere" -o "$tmp/d" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "nowhere: not a model folder" && ok || bad "--base nowhere: rc $rc $err"
err=$("$bin" bench --quick --base "$tmp/b/base/model" -o "$tmp/b" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "already holds a model" && ok || bad "--base over a pretrained model: rc $rc $err"
err=$("$bin" bench --check-leaks "$tmp/nowhere" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$err" | grep -q "plan.json" && ok || bad "--check-leaks nowhere: rc $rc $err"

# --validation: the validation seeds; a change that reaches only the evaluation recomputes only its 26 cells.
if "$bin" bench --quick --validation -o "$tmp/b" > "$tmp/logv" 2>&1 && grep -q "; 26 stages computed, 27 unchanged and kept)" "$tmp/logv" &&
   python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); s = r["seeds"]; p = json.load(open(sys.argv[2]))["eval_seeds"]
assert s["set"] == "validation" and s["run_seed"] == 2000003 and s["episode_seeds"] == p["validation"]["seeds"]
assert not set(s["episode_seeds"]) & set(p["test"]["seeds"])
assert [json.loads(l)["meta"]["seed"] for l in open(sys.argv[3])] == s["episode_seeds"]' "$tmp/b/results.json" "$tmp/b/plan.json" "$tmp/b/episodes_e_unseen_task.jsonl"
then ok; else tail -3 "$tmp/logv"; bad "--validation"; fi

# --base: the chain on a given base model (the one just pretrained), linked, not pretrained again; with
# --embedder a BERT model folder (the tiny fixture) makes the memories, used by every retrieval.
if "$bin" bench --quick --base "$tmp/b/base/model" --embedder "$fixtures/bert/tiny-bert" -o "$tmp/m" > "$tmp/log3" 2>&1 &&
   [ -L "$tmp/m/base/model" ] && ! grep -q '^\$ retrace pretrain' "$tmp/log3" &&
   "$bin" memory stats "$tmp/m/mem" --json | grep -q '"bert-v1:' &&
   python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); assert "base (pretraining)" not in r["loss_logs"] and r["cells"]["e"]["unseen_api"]["episodes"] == 2 and 0 <= r["cells"]["e"]["train"]["retrieval_same_type"] <= 1 and r["embedder"].endswith("tiny-bert")' "$tmp/m/results.json"
then ok; else tail -5 "$tmp/log3"; bad "--base with --embedder"; fi
finish
