#!/usr/bin/env python3
"""A small external environment speaking retrace's JSON-lines protocol (docs/environments.md), used by
the exec: tests. The world is a corridor of rooms; the task is to reach a numbered room and press its
button. Replies carry an "expert" action so the expert policy can run through exec:.

Failure modes, for the tests of how retrace copes with a broken child. They fire at step --at of every
episode whose seed is divisible by --every:
  --fail die       exit without replying
  --fail hang      never reply
  --fail badjson   reply with a line that is not JSON
  --fail badreply  reply with JSON that lacks "observation"
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fail", choices=["none", "die", "hang", "badjson", "badreply"], default="none")
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--at", type=int, default=1)
    ap.add_argument("--tag", default="", help="a marker the tests look for to find leftover processes")
    args = ap.parse_args()
    state = {}

    def send(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def expert():
        if state["pos"] < state["goal"]:
            return "go right"
        if state["pos"] > state["goal"]:
            return "go left"
        return "press button"

    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "reset":
            seed = req["seed"]
            n = 4 + seed % 5
            state.update(seed=seed, n=n, pos=0, goal=1 + (seed // 7) % (n - 1), steps=0)
            send({"task": "press the button in room %d" % state["goal"], "task_type": "corridor",
                  "observation": "You are in room 0 of a corridor of %d rooms." % n,
                  "admissible": ["go left", "go right", "press button"], "expert": expert(),
                  "thought": "Room %d is to my right." % state["goal"]})
            continue
        state["steps"] += 1
        if args.fail != "none" and state["seed"] % args.every == 0 and state["steps"] == args.at:
            if args.fail == "die":
                sys.exit(3)
            if args.fail == "hang":
                time.sleep(3600)
            if args.fail == "badjson":
                sys.stdout.write("{this is not json\n")
                sys.stdout.flush()
                continue
            if args.fail == "badreply":
                send({"reward": 0})
                continue
        action = req["action"]
        done = success = False
        if action == "go right" and state["pos"] < state["n"] - 1:
            state["pos"] += 1
            obs = "You are in room %d." % state["pos"]
        elif action == "go left" and state["pos"] > 0:
            state["pos"] -= 1
            obs = "You are in room %d." % state["pos"]
        elif action == "press button":
            done = True
            success = state["pos"] == state["goal"]
            obs = "Ding!" if success else "Bzzt. Wrong room."
        else:
            obs = "Nothing happens."
        send({"observation": obs, "reward": 1.0 if success else 0.0, "done": done, "success": success,
              "expert": expert(), "thought": "I head for room %d." % state["goal"]})


if __name__ == "__main__":
    main()
