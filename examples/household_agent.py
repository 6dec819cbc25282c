#!/usr/bin/env python3
"""An agent in Python (standard library only) that plays retrace's household world with a model served
by `retrace serve --model`, retrieval on, and posts every finished episode back to the memory, so the
memory grows while it plays (the online loop of docs/serve.md).

For each step it asks POST /v1/chat/completions with a `retrace` object (task, history, first
observation): the server retrieves similar successful episodes, similar failures and tool docs, builds
the agent's prompt with retrace's own prompt builder, and the model answers "think: ...\\nact: ...".

The world is an external environment (docs/environments.md, "exec:"): any program that answers
{"op":"reset","seed":N} and {"op":"step","action":...} with one JSON line each. By default it is
`retrace env serve household`, retrace's own world behind that protocol; swap in your own with --env-cmd.

    retrace serve mem --model MODEL &
    python3 examples/household_agent.py --url http://127.0.0.1:8377 --episodes 5
"""
import argparse
import json
import shlex
import subprocess
import urllib.error
import urllib.request

class World:
    """An external environment over JSON lines: one child process for all the episodes."""

    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def _request(self, **req):
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise SystemExit(f"the environment closed its output (exit status {self.p.poll()})")
        reply = json.loads(line)
        if "error" in reply:
            raise SystemExit(f"the environment: {reply['error']}")
        return reply

    def reset(self, seed):
        r = self._request(op="reset", seed=seed)
        self.task, self.task_type, self.done, self.success, self.reward = r["task"], r.get("task_type", ""), False, False, 0.0
        # the first observation without the task line (the prompt builder states the task itself)
        self.first_observation = "\n".join(l for l in r["observation"].split("\n") if l.strip() and not l.startswith("Your task is to: "))

    def step(self, action):
        r = self._request(op="step", action=action)
        self.done, self.success = r["done"], r["success"]
        self.reward += r.get("reward", 0.0)  # the world's partial credit, step by step
        return r["observation"]

    def close(self):
        self.p.stdin.close()
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


def play(args, world, seed):
    world.reset(seed)
    history, retrieved, end_reason = [], None, None
    while not world.done and len(history) < args.max_steps:
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
    success = world.success
    if end_reason is None:
        end_reason = "success" if success else "env_done" if world.done else "budget_exhausted"
    episode = {"id": f"{args.id_prefix}-{seed}", "env": "household", "task": world.task, "task_type": world.task_type,
               "outcome": "success" if success else "failure", "reward": 1.0 if success else round(min(max(world.reward, 0.0), 1.0), 4), "steps": history,
               "meta": {"policy": "example-agent", "seed": seed, "end_reason": end_reason, "first_observation": world.first_observation,
                        "retrieved_last_step": retrieved}}
    ack = call(args.url, "/v1/episodes", json.dumps(episode), args.key)
    return episode, ack


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8377")
    ap.add_argument("--key", help="the API key, when the server has one")
    ap.add_argument("--retrace", default="retrace", help="the retrace binary (runs the household world)")
    ap.add_argument("--env-cmd", help="the environment's command (default: RETRACE env serve household --max-steps MAX_STEPS)")
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--max-steps", type=int, default=20)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--chat", action="store_true", help="wrap the prompt in the chat template (instruct models)")
    ap.add_argument("--id-prefix", default="example-agent")
    args = ap.parse_args()
    world = World(args.env_cmd or f"{shlex.quote(args.retrace)} env serve household --max-steps {args.max_steps}")
    wins = 0
    for i in range(args.episodes):
        episode, ack = play(args, world, args.seed + i)
        wins += episode["outcome"] == "success"
        print(f"{episode['id']}: {episode['outcome']} in {len(episode['steps'])} steps ({episode['task']}); stored: {ack['ids']}")
    world.close()
    print(f"{wins}/{args.episodes} successes")


if __name__ == "__main__":
    main()
