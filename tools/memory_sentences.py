#!/usr/bin/env python3
"""Writes tests/fixtures/memory/sentences.txt: real English sentences for the memory recall test.

Sources: the license texts Debian ships in /usr/share/common-licenses and the docstrings of Python's
standard library modules (both freely redistributable). Run by hand; the output is committed."""
import importlib, re, sys, glob

def sentences(text):
    text = re.sub(r"\s+", " ", text)
    for s in re.split(r"(?<=[.;:!?])\s+", text):
        s = s.strip()
        if 30 <= len(s) <= 300:
            yield s

def main(out_path, limit=3000):
    texts = []
    for f in sorted(glob.glob("/usr/share/common-licenses/*")):
        try:
            texts.append(open(f, encoding="utf-8", errors="replace").read())
        except IsADirectoryError:
            pass
    for name in sorted(sys.stdlib_module_names):
        if name.startswith("_") or name in ("antigravity", "this", "idlelib", "turtledemo", "tkinter"):
            continue
        try:
            mod = importlib.import_module(name)
        except Exception:
            continue
        for obj in [mod] + [getattr(mod, a, None) for a in sorted(dir(mod)) if not a.startswith("_")]:
            doc = getattr(obj, "__doc__", None)
            if isinstance(doc, str):
                texts.append(doc)
    seen, out = set(), []
    for t in texts:
        for s in sentences(t):
            if s not in seen:
                seen.add(s)
                out.append(s)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out[:limit]) + "\n")
    print(f"{min(len(out), limit)} sentences")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/memory/sentences.txt")
