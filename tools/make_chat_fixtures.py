#!/usr/bin/env python3
"""Writes tests/fixtures/tok/chat/<name>.json: chat templates rendered as transformers'
apply_chat_template(tokenize=False) renders them, for test_tok_chat to compare byte for byte.

Templates: llama3, qwen3 (tokenizer_config.json of ../shared/models/tokenizers), smollm2 (the
`tokenizer.chat_template` of SmolLM2-135M-Instruct.Q4_1.gguf, read with the `gguf` package and kept as
smollm2.jinja), mistral-v1 / mistral-v3 (Mistral-7B-Instruct v0.1 and v0.3 templates, kept as .jinja:
the shared Mistral tokenizer has none), qwen2 (Qwen2-Instruct's), chatml (the one the trainer writes).

The renderer is transformers' own when it imports: the tokenizer's apply_chat_template(tokenize=False)
for llama3, qwen3 and smollm2 (loaded from the GGUF, with bos/eos transformers reads there), and for the
templates without a tokenizer render_jinja_template, the function apply_chat_template renders each
conversation with. Otherwise jinja2 in the environment
transformers' _compile_jinja_template builds (checked against its source, src/transformers/utils/
chat_template_utils.py): ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[AssistantTracker, loopcontrols]); tojson = json.dumps(x, ensure_ascii=False, indent=None,
separators=None, sort_keys=False) with those as keyword arguments; raise_exception raising TemplateError;
strftime_now(fmt) = datetime.now().strftime(fmt); and the variables messages, tools=None,
documents=None, add_generation_prompt, bos/eos and enable_thinking. Each file records which was used.
SmolLM2's bos/eos are read from the GGUF (tokenizer.ggml.tokens[bos/eos_token_id]).

Also writes case_map.json (Python's upper/lower/title per code point, for jinja_case.c), and with
--case-table prints the rows of src/tok/jinja_case_table.c.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tok", "chat")
SHARED = os.path.join(ROOT, "..", "shared", "models", "tokenizers")
GGUF = os.path.expanduser("~/.cache/retrace/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf")


def compile_template(name, text):
    """A render(messages, **variables) function for the template and a note naming the renderer."""
    try:
        import transformers
    except ImportError:
        transformers = None
    tok = None
    if transformers is not None and os.path.exists(os.path.join(SHARED, name, "tokenizer_config.json")):
        tok = transformers.AutoTokenizer.from_pretrained(os.path.join(SHARED, name))
    elif transformers is not None and name == "smollm2" and os.path.exists(GGUF):  # needs the gguf package
        tok = transformers.AutoTokenizer.from_pretrained(os.path.dirname(GGUF), gguf_file=os.path.basename(GGUF))
    if tok is not None:
        assert tok.chat_template == text

        def render(messages, tools, documents, **kw):  # bos/eos are the tokenizer's own
            kw = {k: v for k, v in kw.items() if k not in ("bos_token", "eos_token")}
            return tok.apply_chat_template(messages, tools=tools, documents=documents, tokenize=False, **kw)
        return render, "transformers " + transformers.__version__ + " apply_chat_template(tokenize=False)"
    if transformers is not None:
        try:
            from transformers.utils.chat_template_utils import render_jinja_template
        except ImportError:  # before 4.50 apply_chat_template rendered the compiled template itself
            from transformers.utils.chat_template_utils import _compile_jinja_template
            tmpl = _compile_jinja_template(text)
            return (lambda messages, **kw: tmpl.render(messages=messages, **kw),
                    "transformers " + transformers.__version__ + " _compile_jinja_template")

        def render(messages, **kw):  # what apply_chat_template(tokenize=False) calls for one conversation
            out, _ = render_jinja_template(conversations=[messages], chat_template=text, **kw)
            return out[0]
        return render, "transformers " + transformers.__version__ + " render_jinja_template (apply_chat_template's renderer)"
    import jinja2
    import jinja2.ext
    from datetime import datetime
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    # transformers also adds its AssistantTracker extension ({% generation %}, which renders its body);
    # none of these templates uses it.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    tmpl = env.from_string(text)
    return lambda messages, **kw: tmpl.render(messages=messages, **kw), "jinja2 " + jinja2.__version__ + " with transformers' settings"


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
    [U("ΣΑΣ ΟΔΟΣ Σ. ὈΔΥΣΣΕΎΣ' straße ﬁne ﬃ İstanbul ǆemal ǅ Éclair ŉ ΐ ᾳ Ꭰ 𐐀 o'neil x-ray"), A("ß → SS? ǈ ǋ ĳ Ǳ ΑΣ ΟΣ-ΑΣ")],
    [U("İSTANBUL ΣΑΣ"), A("ǆ ǅ")],  # capitalize titlecases the first letter without lowering it first
]


def special_tokens(name):
    cfg = os.path.join(SHARED, name, "tokenizer_config.json")
    if os.path.exists(cfg):
        c = json.load(open(cfg, encoding="utf-8"))
        tok = lambda v: v if isinstance(v, str) or v is None else v.get("content")
        return c.get("chat_template"), tok(c.get("bos_token")), tok(c.get("eos_token"))
    return None, None, None


SMOLLM2_KEYS = ("tokenizer.chat_template", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.tokens")


def smollm2():
    """SmolLM2's template and bos/eos strings from the GGUF metadata (the template is kept as
    smollm2.jinja; bos/eos are tokenizer.ggml.tokens[bos/eos_token_id]), or None without the file."""
    if not os.path.exists(GGUF):
        return None
    try:
        import gguf
        r = gguf.GGUFReader(GGUF)
        f = lambda k: r.fields[k]
        text = bytes(f(SMOLLM2_KEYS[0]).parts[f(SMOLLM2_KEYS[0]).data[0]]).decode("utf-8")
        ids = [int(f(k).parts[f(k).data[0]][0]) for k in SMOLLM2_KEYS[1:3]]
        toks = f(SMOLLM2_KEYS[3])
        names = [bytes(toks.parts[toks.data[i]]).decode("utf-8") for i in ids]
    except ImportError:
        print("gguf not installed: reading the keys with the minimal reader below", file=sys.stderr)
        kv = gguf_values(GGUF, SMOLLM2_KEYS)
        text, toks = kv[SMOLLM2_KEYS[0]], kv[SMOLLM2_KEYS[3]]
        names = [toks[kv[k]] for k in SMOLLM2_KEYS[1:3]]
    with open(os.path.join(OUT, "smollm2.jinja"), "w", encoding="utf-8") as fh:
        fh.write(text)
    return text, names[0], names[1]


def gguf_values(path, want):
    """The values of the keys `want` in a GGUF v2/v3 header (fallback when the gguf package is
    missing): strings, integers and arrays of them."""
    import struct
    fmt = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
    out = {}
    with open(path, "rb") as f:
        assert f.read(4) == b"GGUF"
        f.read(4 + 8)
        (n_kv,) = struct.unpack("<Q", f.read(8))
        rd_str = lambda: f.read(struct.unpack("<Q", f.read(8))[0])

        def value(t):
            if t == 8:
                return rd_str().decode("utf-8", "replace")
            if t == 9:
                et, n = struct.unpack("<IQ", f.read(12))
                return [value(et) for _ in range(n)]
            return struct.unpack(fmt[t], f.read(struct.calcsize(fmt[t])))[0]

        for _ in range(n_kv):
            key = rd_str().decode()
            (t,) = struct.unpack("<I", f.read(4))
            v = value(t)
            if key in want:
                out[key] = v
    missing = [k for k in want if k not in out]
    if missing:
        raise KeyError(f"{path}: no {missing}")
    return out


def templates():
    out = []
    for name in ("llama3", "qwen3"):
        text, bos, eos = special_tokens(name)
        out.append((name, text, bos, eos))
    read = lambda f: open(os.path.join(OUT, f), encoding="utf-8").read()
    sm = smollm2()
    if sm is None:  # no GGUF here: the kept template, and the bos/eos the committed fixture recorded
        doc = json.load(open(os.path.join(OUT, "smollm2.json"), encoding="utf-8"))
        sm = read("smollm2.jinja"), doc["bos_token"], doc["eos_token"]
        print("SmolLM2 GGUF missing: bos/eos taken from the committed smollm2.json", file=sys.stderr)
    out.append(("smollm2",) + tuple(sm))
    out.append(("mistral-v1", read("mistral-v1.jinja"), "<s>", "</s>"))
    out.append(("mistral-v3", read("mistral-v3.jinja"), "<s>", "</s>"))
    out.append(("qwen2", read("qwen2.jinja"), None, "<|im_end|>"))
    sys.path.insert(0, ROOT)
    chatml = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
              "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    out.append(("chatml", chatml, None, None))
    # Not a model's: Python's Unicode case mapping through the filters and str methods.
    casing = ("{% for m in messages %}{{ m.role | upper }}: {{ m.content | upper }}|{{ m.content | lower }}|"
              "{{ m.content | title }}|{{ m.content | capitalize }}|{{ m.content.upper() }}|{{ m.content.title() }}"
              "|{{ m.content is lower }}{{ m.content.lower() is lower }}{{ m.content.upper() is upper }}\n{% endfor %}")
    out.append(("casing", casing, None, None))
    return out


def case_table():
    """Prints jinja_case_table.c's rows: the code points whose upper/lower/title are longer than one."""
    hexes = lambda t: "{" + ", ".join("0x%X" % ord(ch) for ch in t) + "}"
    for cp in range(0x110000):
        c = chr(cp)
        if max(len(c.upper()), len(c.lower()), len(c.title())) > 1:
            print("    {0x%X, %s, %s, %s}," % (cp, hexes(c.upper()), hexes(c.lower()), hexes(c.title())))


def case_map():
    """case_map.json: for every code point Python's case mapping touches, [cp, upper, lower, title of
    cp + 'A'] (the 'A' shows whether the code point counts as cased: it is lowered after one)."""
    rows = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        t = (c + "A").title()
        if c.upper() != c or c.lower() != c or c.title() != c or t.endswith("a"):
            rows.append([cp, c.upper(), c.lower(), t])
    doc = {"python": sys.version.split()[0], "unicode": __import__("unicodedata").unidata_version, "rows": rows}
    with open(os.path.join(OUT, "case_map.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"case_map: {len(rows)} code points (Python {doc['python']}, Unicode {doc['unicode']})")


def main():
    if sys.argv[1:] == ["--case-table"]:
        return case_table()
    os.makedirs(OUT, exist_ok=True)
    case_map()
    for name, text, bos, eos in templates():
        render, how = compile_template(name, text)
        cases = []
        for conv in CONVERSATIONS:
            for gen in (False, True):
                for think in ((None, False, True) if name == "qwen3" else (None,)):
                    kw = {"tools": None, "documents": None, "add_generation_prompt": gen}
                    if bos is not None:
                        kw["bos_token"] = bos
                    if eos is not None:
                        kw["eos_token"] = eos
                    case = {"messages": conv, "add_generation_prompt": gen}
                    if think is not None:
                        kw["enable_thinking"] = think
                        case["enable_thinking"] = think
                    try:
                        case["text"] = render(conv, **kw)
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
