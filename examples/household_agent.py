#!/usr/bin/env python3
"""An agent in Python (standard library only) that plays retrace's household world with a model served
by `retrace serve --model`, retrieval on, and posts every finished episode back to the memory, so the
memory grows while it plays (the online loop of docs/serve.md).

For each step it asks POST /v1/chat/completions with a `retrace` object (task, history, first
observation): the server retrieves similar successful episodes, similar failures and tool docs, builds
the agent's prompt with retrace's own prompt builder, and the model answers "think: ...\\nact: ...".

The world runs in `retrace env play` (one process per episode, its text interface line-buffered with
stdbuf); the agent marks the end of each reply by sending an unknown command, whose help line follows
the observation.

    retrace serve mem --model MODEL &
    python3 examples/household_agent.py --url http://127.0.0.1:8377 --episodes 5
"""
import argparse
import json
import subprocess
import urllib.error
import urllib.request

HELP_LINE = ":admissible, :expert, :docs, :quit, or an action"


class World:
    """One household episode behind `retrace env play`."""

    def __init__(self, retrace, seed, max_steps):
        cmd = ["stdbuf", "-oL", retrace, "env", "play", "--env", "household", "--seed", str(seed), "--max-steps", str(max_steps)]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.over = None
        lines = self._exchange(":mark")
        at = next(i for i, l in enumerate(lines) if l.startswith("[household, "))
        header, rest = lines[at], [l for l in lines[at + 1:] if l.strip()]
        self.task_type = header.strip("[]").split(", ")[1]
        self.task = next(l for l in rest if l.startswith("Your task is to: "))[len("Your task is to: "):]
        self.first_observation = "\n".join(l for l in rest if not l.startswith("Your task is to: "))

    def _exchange(self, text):
        """Sends text and a marker; returns the lines before the marker's help line or the end line."""
        self.p.stdin.write(text + "\n" + (":mark\n" if text != ":mark" else ""))
        self.p.stdin.flush()
        lines = []
        for line in self.p.stdout:
            line = line.rstrip("\n")
            if line == HELP_LINE:
                break
            if line.startswith("[episode over: "):
                self.over = line
                break
            lines.append(line)
        return lines

    def step(self, action):
        return "\n".join(l for l in self._exchange(action) if l.strip() and l != HELP_LINE)

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        self.p.wait(timeout=10)


def call(url, path, body, key):
    req = urllib.request.Request(url + path, data=body.encode(), method="POST", headers={"Content-Type": "application/json"})
    if key:
        req.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        text = e.read().decode(errors="replace")
        if e.code == 400 and "over the budget" in text:
            return None  # the task and the last step no longer fit the model's context
        raise SystemExit(f"{path}: HTTP {e.code}: {text}") from None


def parse_step(text):
    """The model's step: (thought, action); action None when there is no "act:" line."""
    thought, action = "", None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("think:") and not thought:
            thought = line[len("think:"):].strip()
        if line.startswith("act:") and action is None:
            action = line[len("act:"):].strip() or None
    return thought, action


def play(args, seed):
    world = World(args.retrace, seed, args.max_steps)
    history, retrieved, end_reason = [], None, None
    while world.over is None and len(history) < args.max_steps:
        reply = call(args.url, "/v1/chat/completions", json.dumps({
            "messages": [], "max_tokens": args.max_tokens, "temperature": 0, "seed": seed, "stop": ["\nobs:", "\n\n"],
            "retrace": {"task": world.task, "env": "household", "history": history, "first_observation": world.first_observation,
                        "k": args.k, "negatives": 1, "chat": args.chat}}), args.key)
        if reply is None:
            end_reason = "context_overflow"  # as retrace's own agent loop: the episode ends, a failure
            break
        retrieved = reply["retrace"]["retrieved"]
        thought, action = parse_step(reply["choices"][0]["message"]["content"])
        observation = world.step(action or "look")  # an unparseable answer costs a step
        history.append({"thought": thought, "action": action or "", "observation": observation})
    success = world.over is not None and world.over.startswith("[episode over: success")
    world.close()
    episode = {"id": f"{args.id_prefix}-{seed}", "env": "household", "task": world.task, "task_type": world.task_type,
               "outcome": "success" if success else "failure", "reward": 1.0 if success else 0.0, "steps": history,
               "meta": {"policy": "example-agent", "seed": seed, "end_reason": end_reason or world.over or "budget_exhausted", "first_observation": world.first_observation,
                        "retrieved_last_step": retrieved}}
    ack = call(args.url, "/v1/episodes", json.dumps(episode), args.key)
    return episode, ack


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8377")
    ap.add_argument("--key", help="the API key, when the server has one")
    ap.add_argument("--retrace", default="retrace", help="the retrace binary (runs the household world)")
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--max-steps", type=int, default=20)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--chat", action="store_true", help="wrap the prompt in the chat template (instruct models)")
    ap.add_argument("--id-prefix", default="example-agent")
    args = ap.parse_args()
    wins = 0
    for i in range(args.episodes):
        episode, ack = play(args, args.seed + i)
        wins += episode["outcome"] == "success"
        print(f"{episode['id']}: {episode['outcome']} in {len(episode['steps'])} steps ({episode['task']}); stored: {ack['ids']}")
    print(f"{wins}/{args.episodes} successes")


if __name__ == "__main__":
    main()
