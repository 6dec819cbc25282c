#!/usr/bin/env python3
"""Writes the tokenizer reference fixtures under tests/fixtures/tok/ with the `tokenizers` and
`transformers` libraries (the references retrace must match id for id).

    pip install tokenizers transformers jinja2
    python3 tools/make_tok_fixtures.py [--shared ../shared]

For each tokenizer folder found (../shared/models/tokenizers/{mistral,llama3,qwen3} and the small
committed ones under tests/fixtures/tok/models/, see tools/tok_make_models.py; trained-bpe there is
written by `retrace tokenizer-train`, so its ids check that the reference library reads the trainer's
output and encodes as retrace does) it writes <name>.ref.json:
  encode          ids of every corpus text, add_special_tokens=False
  encode_special  the same with add_special_tokens=True
  invalid         raw byte strings (hex) with the ids of their errors="replace" decoding
  decode          id lists (the corpus ids and random ones) with their text, special tokens kept
                  and skipped
and, for the three shared tokenizers and trained-chatml (the trainer's ChatML template),
<name>.chat.json: conversations rendered by
apply_chat_template(tokenize=False) with and without the generation prompt, and with Qwen3's
enable_thinking False and True.
The corpus itself is written to corpus.json so the C tests read the same texts, and floats.json
pairs each Unigram score as written in the file with the value the reference holds after parsing.
"""
import argparse
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "tests", "fixtures", "tok")

PROSE = ("The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times; "
         "it was the age of wisdom, it was the age of foolishness. ")

CORPUS = [
    "",
    " ",
    "  ",
    "\n",
    "\n\n\n",
    " \n ",
    "Hello world",
    "Hello, world! How are you doing today?",
    PROSE,
    PROSE * 12,
    # contractions in both cases
    "I'm sure you're right, but we'll see; they've said it's fine and I'd agree.",
    "I'M SURE YOU'RE RIGHT, BUT WE'LL SEE; THEY'VE SAID IT'S FINE AND I'D AGREE.",
    "Don't DON'T don't Can't CAN'T won't WON'T 'S 's 'T 'Ll 'lL",
    # code with indentation and tabs
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "int main(void) {\n\tfor (int i = 0; i < 10; i++) {\n\t\tprintf(\"%d\\n\", i);\n\t}\n\treturn 0;\n}\n",
    "    indented with four spaces\n\t\ttwo tabs\n  \t mixed",
    "x=1;y=2;z=x**y//3%4&5|6^~7<<8>>9",
    '{"key": [1, 2.5, -3e10, true, null], "nested": {"a": "b"}}',
    "<div class=\"main\"><p>Paragraph &amp; entity</p></div>",
    "https://example.com/path?query=1&x=y#frag and mail@example.org",
    # numbers and dates
    "12345678901234567890",
    "3.14159 2.71828 1,000,000 1.000.000,00 -42 +7 0x1F 1e-9",
    "2024-01-15 10:30:00 UTC, 15/01/2024, Jan 15th 2024, 1999-12-31T23:59:59Z",
    "Call 555-0123 or +1 (800) 555-0199 ext. 42",
    "①②③ ¹²³ ½ ¼ Ⅻ ١٢٣٤ ०१२३ 一二三",
    # accented Latin (composed and decomposed)
    "Ça va? Über naïve café résumé. Ærøskøbing, Łódź, Dvořák, Đakovo, São Paulo, Ångström",
    "Cafe\u0301 re\u0301sume\u0301 na\u0308ive A\u030a",
    "ﬁnancial ﬂower ｆｕｌｌｗｉｄｔｈ Ｔｅｘｔ ㍿ ™ ℃",
    # CJK
    "你好，世界！今天天气很好。我们去公园散步吧。",
    "日本語のテキストです。カタカナとひらがな、そして漢字。",
    "한국어 텍스트입니다. 안녕하세요!",
    # Arabic, Hebrew, Devanagari, Thai, Cyrillic, Greek
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "שלום עולם, מה שלומך?",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "สวัสดีชาวโลก",
    "Привет, мир! Как дела?",
    "Γειά σου Κόσμε! Ελληνικά ΣΊΣΥΦΟΣ",
    # emoji, ZWJ sequences, flags, skin tones, variation selectors
    "🎉🎊 party 😀😃😄",
    "👩‍👩‍👧‍👦 family 👨‍💻 coder 🏳️‍🌈 flag",
    "👍🏽 👋🏿 🇫🇷🇯🇵🇺🇸 ❤️ ☺︎ #️⃣",
    # CRLF and other line breaks
    "line one\r\nline two\r\n",
    "\r\n\r\n",
    "a\rb\r\rc",
    "para\u2028sep\u2029end\u0085nel",
    # runs of spaces and unusual whitespace
    "a     b",
    "trailing spaces   ",
    "   leading spaces",
    "tab\tseparated\tvalues\t\t",
    "nbsp\u00a0here em\u2003space ideographic\u3000space",
    "mongolian\u180evowel zero\u200bwidth joiner\u200dx",
    "     \n     \n",
    # text that looks like special tokens
    "<|begin_of_text|>Hello<|end_of_text|>",
    "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>",
    "<s>[INST] question [/INST] answer</s>",
    "<unk> <s> </s> <pad> <mask> [CLS] [SEP]",
    "<think>\nreasoning here\n</think>\n\nanswer",
    "< |im_start| > <|im_start <|not_a_token|> <||>",
    "text<|im_start|>glued<|im_end|>text",
    "<0x41><0xE4> ▁word Ġtoken Ċ ##suffix",
    # control chars and odd code points
    "nul\x00byte esc\x1b[31mred\x1b[0m del\x7f bell\x07",
    "\ufeffBOM at start",
    "private use \ue000 noncharacter \ufdd0 replacement \ufffd",
    "Z\u0351\u0334a\u0336\u0321l\u0322\u035dg\u0352o",
    "𝕳𝖊𝖑𝖑𝖔 𝒲ℴ𝓇𝓁𝒹 𝟙𝟚𝟛",
    "İstanbul ıi İI ß ẞ ǅ ﬀ",
    # markdown and mixed
    "# Title\n\n- item one\n- item two\n\n```python\nprint('hi')\n```\n",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "Mixed 中文 English العربية 123 🎉 in one line.",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism",
    "!!!??? ... --- *** ((( ))) [[[ ]]] {{{ }}}",
    "'quoted' \"double\" `back` «guillemets» „low“ ‘curly’",
    # runs of one punctuation char: equally scored Unigram segmentations, decided by float rounding
    "-------------- ============== ______________ ..............",
]

INVALID = [
    b"abc\xffdef",
    b"\xc3\x28 bad continuation",
    b"truncated \xe4\xb8",
    b"\xf0\x9f\x98 emoji cut",
    b"overlong \xc0\xaf and surrogate \xed\xa0\x80",
    b"\x80\x80\x80",
    b"ok \xe4\xbd\xa0\xe5\xa5\xbd \xfe\xfe",
]

CONVERSATIONS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "What is 2+2?"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one?"},
    ],
    [
        {"role": "user", "content": "  padded question \n"},
        {"role": "assistant", "content": "  padded answer  "},
        {"role": "user", "content": "Thanks! 🎉 你好"},
        {"role": "assistant", "content": "You're welcome."},
    ],
    [
        {"role": "user", "content": "Think first."},
        {"role": "assistant", "content": "<think>\nLet me think.\n</think>\n\nThe answer is 4."},
        {"role": "user", "content": "And now?"},
        {"role": "assistant", "content": "<think>\nAgain.\n</think>\n\nStill 4."},
    ],
    [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "system", "content": "a second system message"},
        {"role": "user", "content": "q2"},
    ],
    [
        {"role": "user", "content": "call the tool"},
        {"role": "assistant", "content": "calling"},
        {"role": "tool", "content": "{\"result\": 42}"},
        {"role": "tool", "content": "second result"},
        {"role": "assistant", "content": "<think>used tools</think>done"},
    ],
]


def tokenizer_dirs(shared):
    dirs = []
    base = os.path.join(shared, "models", "tokenizers")
    for name in ("mistral", "llama3", "qwen3"):
        d = os.path.join(base, name)
        if os.path.exists(os.path.join(d, "tokenizer.json")):
            dirs.append((name, d))
        else:
            print(f"skipping {name}: {d} not found", file=sys.stderr)
    local = os.path.join(OUT, "models")
    if os.path.isdir(local):
        for name in sorted(os.listdir(local)):
            d = os.path.join(local, name)
            if os.path.exists(os.path.join(d, "tokenizer.json")):
                dirs.append((name, d))
    return dirs


def reference_ids(name, d):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    # retrace encodes whole texts; padding and truncation (MiniLM's file sets both) are the caller's.
    tok.no_padding()
    tok.no_truncation()
    ref = {"tokenizer": name}
    ref["encode"] = [tok.encode(t, add_special_tokens=False).ids for t in CORPUS]
    ref["encode_special"] = [tok.encode(t, add_special_tokens=True).ids for t in CORPUS]
    ref["invalid"] = [
        {"hex": b.hex(), "ids": tok.encode(b.decode("utf-8", errors="replace"), add_special_tokens=False).ids}
        for b in INVALID
    ]
    rng = random.Random(1234)
    vocab = tok.get_vocab_size(with_added_tokens=True)
    lists = [ids for ids in ref["encode"] if ids]
    lists += [[rng.randrange(vocab) for _ in range(rng.randrange(1, 9))] for _ in range(40)]
    lists = [[i for i in ids if tok.id_to_token(i) is not None] for ids in lists]
    ref["decode"] = [
        {
            "ids": ids,
            "text": tok.decode(ids, skip_special_tokens=False),
            "text_skip_special": tok.decode(ids, skip_special_tokens=True),
        }
        for ids in lists
    ]
    return ref


def reference_chat(name, d):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(d)
    cases = []
    # enable_thinking (Qwen3's switch) is passed as a template variable; templates that do not read
    # it must ignore it.
    for conv in CONVERSATIONS:
        for gen, thinking in ((False, None), (True, None), (True, False), (True, True)):
            case = {"messages": conv, "add_generation_prompt": gen}
            kwargs = {}
            if thinking is not None:
                case["enable_thinking"] = kwargs["enable_thinking"] = thinking
            try:
                case["text"] = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen, **kwargs)
            except Exception as e:  # no template: the C side must refuse too
                case["error"] = str(e).splitlines()[0]
            cases.append(case)
    return {"tokenizer": name, "cases": cases}


def reference_floats(dirs):
    """The scores of the Unigram models as the file writes them and as the reference holds them after
    parsing (serde_json is not correctly rounded; retrace must hold the same values)."""
    from tokenizers import Tokenizer

    pairs = []
    for name, d in dirs:
        path = os.path.join(d, "tokenizer.json")
        with open(path, encoding="utf-8") as f:
            model = json.load(f)["model"]
        if model.get("type") != "Unigram":
            continue
        held = json.loads(Tokenizer.from_file(path).to_str())["model"]["vocab"]
        pairs += [[a[1], b[1]] for a, b in zip(model["vocab"], held)]
    return pairs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump(CORPUS, f, ensure_ascii=False, indent=0)
        f.write("\n")
    chat_names = ("mistral", "llama3", "qwen3", "trained-chatml")
    dirs = tokenizer_dirs(args.shared)
    with open(os.path.join(OUT, "floats.json"), "w") as f:
        json.dump(reference_floats(dirs), f)
        f.write("\n")
    for name, d in dirs:
        ref = reference_ids(name, d)
        with open(os.path.join(OUT, f"{name}.ref.json"), "w", encoding="utf-8") as f:
            json.dump(ref, f, ensure_ascii=False)
            f.write("\n")
        if name in chat_names and os.path.exists(os.path.join(d, "tokenizer_config.json")):
            chat = reference_chat(name, d)
            with open(os.path.join(OUT, f"{name}.chat.json"), "w", encoding="utf-8") as f:
                json.dump(chat, f, ensure_ascii=False, indent=1)
                f.write("\n")
        print(f"{name}: {len(ref['encode'])} texts, {len(ref['decode'])} decode cases")


if __name__ == "__main__":
    main()
