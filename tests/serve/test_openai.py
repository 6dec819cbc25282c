"""The official openai client against `retrace serve --model`: chat and streaming give the text of
`retrace generate --chat` for the same prompt and seed (greedy and sampled); stop strings; the
`retrace` object retrieves episodes from the memory. Args: RETRACE_BIN MODEL_DIR URL."""
import json
import subprocess
import sys

try:
    import openai
except ImportError:
    print("SKIP: the openai Python package is not installed (pip install openai)")
    sys.exit(0)

bin_, model, url = sys.argv[1:4]
client = openai.OpenAI(base_url=url + "/v1", api_key="test-key")


def generate(prompt, max_new, temperature, seed):
    out = subprocess.run([bin_, "generate", "--model", model, "--chat", "--prompt", prompt, "--max-new", str(max_new),
                          "--temperature", str(temperature), "--seed", str(seed)], capture_output=True, text=True, check=True)
    return out.stdout[:-1]  # generate ends the text with one newline


models = client.models.list()
assert [m.id for m in models.data] == ["model"], models

for prompt, temperature, seed in [("put the apple in the fridge", 0.0, 0), ("heat a mug", 0.8, 3), ("go to desk 1", 1.0, 11)]:
    want = generate(prompt, 24, temperature, seed)
    r = client.chat.completions.create(model="model", messages=[{"role": "user", "content": prompt}], max_tokens=24,
                                       temperature=temperature, seed=seed)
    got = r.choices[0].message.content
    assert got == want, (prompt, got, want)
    assert r.usage.completion_tokens <= 24 and r.choices[0].finish_reason in ("stop", "length")
    chunks = list(client.chat.completions.create(model="model", messages=[{"role": "user", "content": prompt}], max_tokens=24,
                                                 temperature=temperature, seed=seed, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == want, (prompt, streamed, want)
    assert chunks[-1].choices[0].finish_reason == r.choices[0].finish_reason

# stop strings end the text before the stop (OpenAI's rule), streamed or not
full = generate("heat a mug", 24, 0.8, 3)
stop = full[5:7] if len(full) > 7 else None
if stop:
    r = client.chat.completions.create(model="model", messages=[{"role": "user", "content": "heat a mug"}], max_tokens=24,
                                       temperature=0.8, seed=3, stop=[stop])
    assert r.choices[0].message.content == full[:full.index(stop)], (r.choices[0].message.content, full, stop)
    assert r.choices[0].finish_reason == "stop"
    s = client.chat.completions.create(model="model", messages=[{"role": "user", "content": "heat a mug"}], max_tokens=24,
                                       temperature=0.8, seed=3, stop=stop, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in s if c.choices) == full[:full.index(stop)]

# retrieval: the response names what it retrieved, successes only, from the memory
r = client.chat.completions.create(model="model", messages=[], max_tokens=8, temperature=0,
                                   extra_body={"retrace": {"task": "put a clean apple in fridge.", "env": "household", "k": 2,
                                                           "negatives": 1}})
info = r.model_extra["retrace"]
got = info["retrieved"]["successes"]
assert 1 <= len(got) <= 2 and all(h["outcome"] == "success" for h in got), info
assert [h["score"] for h in got] == sorted((h["score"] for h in got), reverse=True)
assert info["prompt_tokens"] > 0

# errors come back as the client's exceptions, not crashes
try:
    client.chat.completions.create(model="model", messages=[{"role": "robot", "content": "x"}])
    raise AssertionError("a bad role was accepted")
except openai.BadRequestError as e:
    assert "messages[0].role" in str(e)
print("openai client: all checks passed")
