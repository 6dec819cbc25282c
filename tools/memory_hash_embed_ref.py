#!/usr/bin/env python3
"""An independent Python implementation of retrace's hash-ngram-v1 embedder (src/memory/embed_hash.c),
written from its documented definition, used to make tests/fixtures/memory/hash_embed_ref.json.
The C test compares its vectors with these, which pins the algorithm across machines and compilers.
Run by hand: python3 tools/memory_hash_embed_ref.py > tests/fixtures/memory/hash_embed_ref.json"""
import json, math, unicodedata

M64 = (1 << 64) - 1
FNV_OFFSET, FNV_PRIME = 0xcbf29ce484222325, 0x100000001b3

def fnv1a(h, data):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & M64
    return h

def mix(x):
    x ^= x >> 30; x = (x * 0xbf58476d1ce4e5b9) & M64
    x ^= x >> 27; x = (x * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)

def feature(acc, tag, a, b, w):
    h = fnv1a(FNV_OFFSET, bytes([ord(tag)]) )
    h = fnv1a(h, a)
    if b is not None:
        h = fnv1a(fnv1a(h, b"\0"), b)
    h = mix(h)
    acc[h % len(acc)] += -w if h >> 63 else w

def word_byte(c):
    return c >= 0x80 or c == ord("_") or chr(c).isalnum() and c < 0x80

def embed(text, dim):
    acc = [0.0] * dim
    s = unicodedata.normalize("NFC", text.casefold()).encode()
    words, i = [], 0
    while i < len(s):
        if not word_byte(s[i]):
            i += 1; continue
        j = i
        while j < len(s) and word_byte(s[j]):
            j += 1
        words.append(s[i:j][:64]); i = j
    prev = None
    for w in words:
        feature(acc, "w", w, None, 1.0)
        if prev is not None:
            feature(acc, "b", prev, w, 0.7)
        g = b"<" + w + b">"
        for n in (3, 4, 5):
            for k in range(len(g) - n + 1):
                feature(acc, "c", g[k:k + n], None, 0.25)
        prev = w
    norm = math.sqrt(sum(x * x for x in acc))
    return [x / norm if norm else 0.0 for x in acc]

TEXTS = ["put a hot apple in the fridge", "Book a flight to Paris, then e-mail the itinerary!",
         "take apple 1 from countertop 2", "Crème brûlée für Straße", "x", "snake_case_tool v2.1 -- 42"]
print(json.dumps({"dim": 64, "cases": [{"text": t, "vector": embed(t, 64)} for t in TEXTS]}, indent=1))
