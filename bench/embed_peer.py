#!/usr/bin/env python3
"""The peer of bench/embed.c: sentence-transformers on CPU, driven round by round.

    python3 bench/embed_peer.py --model DIR --texts FILE --threads N --batch 32 --out VECS.f32

Loads the model, encodes the texts (JSON lines, one string each) once as a warm-up and writes those vectors as raw
float32 to --out, prints "ready", then for each line "run" on stdin encodes all texts again and prints
the seconds it took. The C bench alternates these rounds with its own, so both see the same machine
load. Prints "skip: REASON" and exits 0 when torch or sentence-transformers is missing.

    python3 bench/embed_peer.py --make-bge-shape DIR --tokenizer-from MINILM_DIR
writes a randomly initialised model of BGE-small-en-v1.5's shape (BertModel, 12 layers, hidden 384,
12 heads, intermediate 1536, CLS pooling; the bert-base-uncased vocabulary it shares with MiniLM) for
timing: throughput does not depend on the weights' values.
"""
import argparse
import json
import os
import shutil
import sys
import time


def make_bge_shape(out, tok_dir):
    import torch
    from transformers import BertConfig, BertModel
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    cfg = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                     intermediate_size=1536, max_position_embeddings=512, type_vocab_size=2, layer_norm_eps=1e-12)
    torch.manual_seed(0)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if os.path.exists(os.path.join(tok_dir, name)):
            shutil.copy(os.path.join(tok_dir, name), out)
    with open(os.path.join(out, "modules.json"), "w") as f:
        json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                   {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}], f)
    with open(os.path.join(out, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": 384, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, f)
    with open(os.path.join(out, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 512, "do_lower_case": True}, f)
    print(f"wrote {out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model")
    ap.add_argument("--texts")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out")
    ap.add_argument("--make-bge-shape")
    ap.add_argument("--tokenizer-from")
    args = ap.parse_args()
    try:
        import numpy as np
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        print(f"skip: {e}", flush=True)
        return
    if args.make_bge_shape:
        make_bge_shape(args.make_bge_shape, args.tokenizer_from)
        return
    torch.set_num_threads(args.threads)
    with open(args.texts, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    model = SentenceTransformer(args.model, device="cpu")
    model.eval()
    with torch.inference_mode():
        vecs = model.encode(texts, batch_size=args.batch, normalize_embeddings=True)
    np.asarray(vecs, dtype=np.float32).tofile(args.out)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        t0 = time.perf_counter()
        with torch.inference_mode():
            model.encode(texts, batch_size=args.batch, normalize_embeddings=True)
        print(f"{time.perf_counter() - t0:.6f}", flush=True)


if __name__ == "__main__":
    main()
