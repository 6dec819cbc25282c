#!/usr/bin/env python3
"""Why did the agent fail? Reads a `retrace bench` output folder (episodes_<config>_<split>.jsonl and
results.json) and prints, per configuration and split, how the failed steps went wrong.

Developer tool (standard library only); the numbers it prints are what docs/BENCHMARKS.md cites.

Columns:
  success      successes / episodes
  invalid      steps whose output had no 'act:' line, per step
  after-error  of the invalid steps, the share right after an error observation ("Nothing happens.",
               "404 ...", "TypeError: ...", ...): the model never saw an error in training and stops
  wrong-id     toolapi: share of ID arguments (T-501, ORD-2, AC-1006, PX103, ...) that appear neither in
               the task nor in any earlier observation: a copying failure
  phantom      household: share of `take X from Y` whose object X the last observation did not show
  lost-goal    household: share of `take` actions whose object is not the task's object
  same-type    share of steps whose most relevant retrieved success has the task's own type (needs the
               step's "retrieved" field, written since eval logs it; '-' without retrieval)
  copy@same    of the steps whose most relevant retrieved success is an episode of the very same task
               text, the share whose action equals that episode's action at the same step: whether the
               model copies a correct answer it is shown
Usage: tools/bench_diagnose.py BENCH_DIR
"""
import json
import os
import re
import sys

ID_RE = re.compile(r"\b(?:[A-Z]{1,4}-\d{1,5}|PX\d{2,5}|[A-Z]{2}-\d{3})\b")
ERROR_PREFIXES = ("Nothing happens", "400 ", "404 ", "409 ", "TypeError", "ValueError", "KeyError", "Error", "error")


def is_error(obs):
    return obs.startswith(ERROR_PREFIXES)


def task_object(task):
    # household tasks name their object after a verb and an article/quantifier
    m = re.search(r"(?:put|find|clean|heat|cool|examine|look at)\s+(?:a|an|some|two|the)?\s*(?:clean |hot |cool )?(\w+)", task)
    return m.group(1) if m else None


def load_memory(root):
    """Every episode the bench put in its memory, by id (the JSON-lines files that are not eval output)."""
    mem = {}
    for name in os.listdir(root):
        if name.endswith(".jsonl") and not name.startswith(("episodes_", "sft_", "val_")) and ".docs." not in name:
            for line in open(os.path.join(root, name)):
                e = json.loads(line)
                if "steps" in e:
                    mem[e["id"]] = e
    return mem


def diagnose(path, mem):
    eps = [json.loads(line) for line in open(path)]
    d = dict(episodes=len(eps), successes=0, steps=0, invalid=0, after_error=0, ids=0, wrong_ids=0, takes=0,
             phantom=0, lost_goal=0, retrieved=0, same_type=0, same_task=0, copied=0)
    for e in eps:
        d["successes"] += e["outcome"] == "success"
        seen = e["task"] + " " + e.get("meta", {}).get("first_observation", "")
        obj = task_object(e["task"]) if e["env"] == "household" else None
        prev_obs = e.get("meta", {}).get("first_observation", "")
        for i, st in enumerate(e["steps"]):
            d["steps"] += 1
            act, obs = st.get("action", ""), st.get("observation", "")
            if "output" in st:
                d["invalid"] += 1
                d["after_error"] += is_error(prev_obs)
            elif e["env"] == "toolapi":
                for tok in ID_RE.findall(act):
                    d["ids"] += 1
                    d["wrong_ids"] += tok not in seen
            elif act.startswith("take "):
                m = re.match(r"take (\w+) \d+ from", act)
                if m:
                    d["takes"] += 1
                    d["phantom"] += m.group(1) not in prev_obs
                    d["lost_goal"] += obj is not None and m.group(1) != obj
            r = st.get("retrieved")
            if r and r.get("successes"):
                d["retrieved"] += 1
                d["same_type"] += r["successes"][0].get("task_type") == e.get("task_type")
                top = mem.get(r["successes"][0].get("id"))
                if top and top["task"] == e["task"]:
                    d["same_task"] += 1
                    d["copied"] += i < len(top["steps"]) and top["steps"][i]["action"] == act
            seen += " " + obs
            if "output" not in st:
                prev_obs = obs
    return d


def pct(a, b):
    return "-" if b == 0 else f"{100.0 * a / b:.0f}%"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    res = json.load(open(os.path.join(root, "results.json")))
    print(f"{'config':<36} {'split':<20} {'success':>8} {'invalid':>8} {'after-error':>11} {'wrong-id':>9} "
          f"{'phantom':>8} {'lost-goal':>9} {'same-type':>9} {'copy@same':>12}")
    mem = load_memory(root)
    for c in res["configs"]:
        for s in res["splits"]:
            p = os.path.join(root, f"episodes_{c['id']}_{s['id']}.jsonl")
            if not os.path.exists(p):
                continue
            d = diagnose(p, mem)
            print(f"({c['id']}) {c['label']:<32} {s['label']:<20} {d['successes']:>3}/{d['episodes']:<4} "
                  f"{pct(d['invalid'], d['steps']):>8} {pct(d['after_error'], d['invalid']):>11} "
                  f"{pct(d['wrong_ids'], d['ids']):>9} {pct(d['phantom'], d['takes']):>8} "
                  f"{pct(d['lost_goal'], d['takes']):>9} {pct(d['same_type'], d['retrieved']):>9} "
                  f"{pct(d['copied'], d['same_task']):>6} of {d['same_task']:<3}")


if __name__ == "__main__":
    main()
