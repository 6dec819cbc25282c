#!/usr/bin/env python3
"""Writes tests/fixtures/tok/chat/<name>.json: chat templates rendered as transformers'
apply_chat_template(tokenize=False) renders them, for test_tok_chat to compare byte for byte.

Templates: llama3, qwen3 (tokenizer_config.json of ../shared/models/tokenizers), smollm2 (the
`tokenizer.chat_template` of SmolLM2-135M-Instruct.Q4_1.gguf, read with the `gguf` package and kept as
smollm2.jinja), mistral-v1 / mistral-v3 (Mistral-7B-Instruct v0.1 and v0.3 templates, kept as .jinja:
the shared Mistral tokenizer has none), qwen2 (Qwen2-Instruct's), chatml (the one the trainer writes).

The renderer is transformers' own compiled template when transformers imports
(transformers.utils.chat_template_utils._compile_jinja_template); otherwise the same environment built
here with jinja2: ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[loopcontrols]), tojson = json.dumps(ensure_ascii=False, ...), raise_exception and
strftime_now as globals, and the variables messages, tools=None, documents=None,
add_generation_prompt, the special tokens and enable_thinking. Each file records which was used.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tok", "chat")
SHARED = os.path.join(ROOT, "..", "shared", "models", "tokenizers")
GGUF = os.path.expanduser("~/.cache/retrace/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")


def compile_template(text):
    try:
        from transformers.utils.chat_template_utils import _compile_jinja_template
        return _compile_jinja_template(text), "transformers"
    except ImportError:
        pass
    import jinja2
    import jinja2.ext
    from datetime import datetime
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(text), "jinja2 " + jinja2.__version__ + " with transformers' settings"


U = lambda c: {"role": "user", "content": c}
A = lambda c: {"role": "assistant", "content": c}
S = lambda c: {"role": "system", "content": c}

CONVERSATIONS = [
    [U("Hi")],
    [S("You are terse."), U("What is 2+2?")],
    [U("Hello"), A("Hi there!"), U("How are you?")],
    [S("Be kind."), U("One"), A("Two"), U("Three"), A("Four")],
    [U("  padded with spaces and newlines \n\n"), A("\tanswer\n")],
    [U("Grüße, 日本語, emoji 🎉 and Ωmega"), A("Привет — ok")],
    [U('quotes " and \' and backslash \\ and {{ braces }} {% tags %} </s> <|im_end|>'), A('{"json": [1, 2]}')],
    [U("Think first"), A("<think>\nreasoning here\n</think>\n\nThe answer is 4.")],
    [U("q1"), A("<think>old</think>a1"), U("q2")],
    [U("Why?"), {"role": "assistant", "content": "Because.", "reasoning_content": "Let me think."}],
    [S("sys only")],
    [U("a"), U("b")],  # breaks alternation
    [A("starts with the assistant")],
    [S("s"), U("u"), S("second system")],
]


def special_tokens(name):
    cfg = os.path.join(SHARED, name, "tokenizer_config.json")
    if os.path.exists(cfg):
        c = json.load(open(cfg, encoding="utf-8"))
        tok = lambda v: v if isinstance(v, str) or v is None else v.get("content")
        return c.get("chat_template"), tok(c.get("bos_token")), tok(c.get("eos_token"))
    return None, None, None


def smollm2_template():
    path = os.path.join(OUT, "smollm2.jinja")
    if os.path.exists(GGUF):
        try:
            import gguf
            r = gguf.GGUFReader(GGUF)
            f = r.fields["tokenizer.chat_template"]
            text = bytes(f.parts[f.data[0]]).decode("utf-8")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        except ImportError:
            print("gguf not installed: reading the key with the minimal reader below", file=sys.stderr)
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(gguf_string(GGUF, "tokenizer.chat_template"))
    return open(path, encoding="utf-8").read()


def gguf_string(path, want):
    """One string value of a GGUF v2/v3 header (fallback when the gguf package is missing)."""
    import struct
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    with open(path, "rb") as f:
        assert f.read(4) == b"GGUF"
        f.read(4 + 8)
        (n_kv,) = struct.unpack("<Q", f.read(8))
        rd_str = lambda: f.read(struct.unpack("<Q", f.read(8))[0])

        def skip(t):
            if t == 8:
                rd_str()
            elif t == 9:
                et, n = struct.unpack("<IQ", f.read(12))
                for _ in range(n):
                    skip(et)
            else:
                f.read(sizes[t])

        for _ in range(n_kv):
            key = rd_str().decode()
            (t,) = struct.unpack("<I", f.read(4))
            if key == want and t == 8:
                return rd_str().decode("utf-8")
            skip(t)
    raise KeyError(want)


def templates():
    out = []
    for name in ("llama3", "qwen3"):
        text, bos, eos = special_tokens(name)
        out.append((name, text, bos, eos))
    read = lambda f: open(os.path.join(OUT, f), encoding="utf-8").read()
    out.append(("smollm2", smollm2_template(), "<|im_start|>", "<|im_end|>"))
    out.append(("mistral-v1", read("mistral-v1.jinja"), "<s>", "</s>"))
    out.append(("mistral-v3", read("mistral-v3.jinja"), "<s>", "</s>"))
    out.append(("qwen2", read("qwen2.jinja"), None, "<|im_end|>"))
    sys.path.insert(0, ROOT)
    chatml = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
              "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    out.append(("chatml", chatml, None, None))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, text, bos, eos in templates():
        tmpl, how = compile_template(text)
        cases = []
        for conv in CONVERSATIONS:
            for gen in (False, True):
                for think in ((None, False, True) if name == "qwen3" else (None,)):
                    kw = {"messages": conv, "tools": None, "documents": None, "add_generation_prompt": gen}
                    if bos is not None:
                        kw["bos_token"] = bos
                    if eos is not None:
                        kw["eos_token"] = eos
                    case = {"messages": conv, "add_generation_prompt": gen}
                    if think is not None:
                        kw["enable_thinking"] = think
                        case["enable_thinking"] = think
                    try:
                        case["text"] = tmpl.render(**kw)
                    except Exception as e:  # the template refused the conversation (raise_exception)
                        case["error"] = str(e)
                    cases.append(case)
        doc = {"template": name, "rendered_by": how, "bos_token": bos, "eos_token": eos, "chat_template": text,
               "cases": cases}
        with open(os.path.join(OUT, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"{name}: {len(cases)} cases ({sum('error' in c for c in cases)} refused), {how}")


if __name__ == "__main__":
    main()
