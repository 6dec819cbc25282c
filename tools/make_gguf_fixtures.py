#!/usr/bin/env python3
"""Writes the GGUF test fixtures of tests/fixtures/gguf with the `gguf` Python package (llama.cpp's own
writer and reference dequantizer); tests/test_gguf*.c read them.

    python3 tools/make_gguf_fixtures.py [--out tests/fixtures/gguf]

- dequant.gguf: for each tensor type retrace dequantizes, a tensor "<TYPE>" of 2 x 512 values in that
  type and "<TYPE>.ref", its float32 dequantization by gguf.quants.dequantize. Types the package can
  quantize are quantized from random floats; for the K-quants (which it only dequantizes) the blocks are
  random valid bytes (finite f16 scales). F16 and BF16 are random bit patterns, NaN and Inf included.
- meta.gguf: metadata of every value type, arrays of each, nested arrays, UTF-8 strings, an alignment
  of 64 and three small tensors; the values are listed in tests/test_gguf.c.
- tiny-llama.gguf / tiny-llama-hf and tiny-qwen2.gguf / tiny-qwen2-hf: the same random decoder as a
  GGUF file (llama.cpp's names, llama's q/k rows permuted exactly as convert_hf_to_gguf.py does) and
  as a Hugging Face folder (config.json, model.safetensors); loading both must give equal weights.
"""
import argparse
import json
import os
import struct

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf import GGUFValueType as V

ROWS, COLS = 2, 256
QUANTIZABLE = [T.F32, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1]
K_QUANTS = [T.Q4_K, T.Q5_K, T.Q6_K]
BITS16 = [T.F16, T.BF16]


def random_f16(rng, n, lo=-6, hi=-2):
    """Finite f16 scales of moderate size, as bytes."""
    mag = 2.0 ** rng.uniform(lo, hi, n) * rng.choice([-1, 1], n)
    return mag.astype(np.float16).view(np.uint8).reshape(n, 2)


def k_quant_blocks(rng, qtype, n_blocks):
    size = gguf.GGML_QUANT_SIZES[qtype][1]
    b = rng.integers(0, 256, (n_blocks, size), dtype=np.uint8)
    if qtype in (T.Q4_K, T.Q5_K):
        b[:, 0:2] = random_f16(rng, n_blocks)
        b[:, 2:4] = random_f16(rng, n_blocks)
    else:  # Q6_K: d is the last two bytes
        b[:, size - 2:] = random_f16(rng, n_blocks)
    return b.reshape(-1)


def make_dequant(out):
    rng = np.random.default_rng(11)
    w = gguf.GGUFWriter(os.path.join(out, "dequant.gguf"), "none")
    for qtype in QUANTIZABLE + K_QUANTS + BITS16:
        blck, size = gguf.GGML_QUANT_SIZES[qtype]
        n_blocks = ROWS * COLS // blck
        if qtype in QUANTIZABLE:
            x = (rng.standard_normal((ROWS, COLS)) * rng.uniform(0.01, 2.0, (ROWS, 1))).astype(np.float32)
            x[0, :7] = [0, 0, 0, 0, 0, 0, 0]  # an all-zero stretch: d == 0 paths
            raw = gguf.quants.quantize(x, qtype).reshape(-1).view(np.uint8) if qtype != T.F32 else x.view(np.uint8).reshape(-1)
        elif qtype in K_QUANTS:
            raw = k_quant_blocks(rng, qtype, n_blocks)
        else:
            raw = rng.integers(0, 1 << 16, ROWS * COLS, dtype=np.uint16).view(np.uint8)
        raw = np.ascontiguousarray(raw.reshape(ROWS, -1))
        ref = gguf.quants.dequantize(raw, qtype).astype(np.float32).reshape(ROWS, COLS)
        w.add_tensor(qtype.name, raw, raw_dtype=qtype)  # raw's shape is in bytes
        w.add_tensor(qtype.name + ".ref", ref)
    finish(w)


def make_meta(out):
    w = gguf.GGUFWriter(os.path.join(out, "meta.gguf"), "none")
    w.data_alignment = 64
    w.add_uint32("general.alignment", 64)
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -30000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 1.5)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo wörld ✓")
    w.add_uint64("t.u64", 1 << 40)
    w.add_int64("t.i64", -(1 << 40))
    w.add_float64("t.f64", -2.25)
    w.add_key_value("t.arr.i8", [-1, 2, -3], V.ARRAY, sub_type=V.INT8)
    w.add_key_value("t.arr.u16", [1, 2, 65535], V.ARRAY, sub_type=V.UINT16)
    w.add_key_value("t.arr.f32", [0.5, -0.25], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("t.arr.f64", [1e300], V.ARRAY, sub_type=V.FLOAT64)
    w.add_key_value("t.arr.bool", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_key_value("t.arr.i64", [-5, 1 << 50], V.ARRAY, sub_type=V.INT64)
    w.add_array("t.arr.str", ["a", "", "ünï", "last"])
    w.add_key_value("t.arr.nested", [[1, 2], [3], [4, 5, 6]], V.ARRAY, sub_type=V.ARRAY)
    w.add_key_value("t.arr.nested_str", [["x", "yy"], ["zzz"]], V.ARRAY, sub_type=V.ARRAY)
    w.add_tensor("a", np.arange(3, dtype=np.float32))
    w.add_tensor("b", np.arange(6, dtype=np.float16).reshape(2, 3))
    w.add_tensor("c", np.arange(32, dtype=np.float32).reshape(1, 1, 32))
    finish(w)


def finish(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def permute(weights, n_head, n_head_kv):
    """convert_hf_to_gguf.py's LlamaModel.permute, verbatim in effect."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:]).swapaxes(1, 2).reshape(weights.shape)


def save_safetensors(path, tensors):
    """A minimal safetensors writer (F16 where the values are exact in f16, else F32)."""
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        a16 = arr.astype(np.float16)
        if np.array_equal(a16.astype(np.float32), arr):
            data, dt = a16.tobytes(), "F16"
        else:
            data, dt = arr.astype(np.float32).tobytes(), "F32"
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def make_tiny(out, arch):
    rng = np.random.default_rng(7 if arch == "llama" else 8)
    H, I, L, NH, NKV, V_ = 32, 32, 2 if arch == "llama" else 1, 4, 2, 32
    HD = H // NH
    tied = arch == "qwen2"
    # f16-exact values, so that an F16 GGUF tensor equals the reference bit for bit.
    def f16(*shape, scale=0.1):
        return (rng.standard_normal(shape) * scale).astype(np.float16).astype(np.float32)
    hf, gg = {}, []  # gg: (gguf name, float32 array in HF orientation, type)
    emb = f16(V_, H)
    q_emb = gguf.quants.quantize(emb, T.Q8_0)
    hf["model.embed_tokens.weight"] = gguf.quants.dequantize(q_emb, T.Q8_0).reshape(V_, H)
    gg.append(("token_embd.weight", q_emb, T.Q8_0, (V_, H)))
    hf["model.norm.weight"] = 1 + f16(H)
    gg.append(("output_norm.weight", hf["model.norm.weight"], T.F32, None))
    if not tied:
        hf["lm_head.weight"] = f16(V_, H)
        gg.append(("output.weight", hf["lm_head.weight"].astype(np.float16), T.F16, None))
    projs = [("q_proj", "attn_q", NH * HD, H), ("k_proj", "attn_k", NKV * HD, H), ("v_proj", "attn_v", NKV * HD, H),
             ("o_proj", "attn_output", H, NH * HD), ("gate_proj", "ffn_gate", I, H), ("up_proj", "ffn_up", I, H),
             ("down_proj", "ffn_down", H, I)]
    mlp_types = {"ffn_gate": T.Q4_1, "ffn_up": T.Q5_0, "ffn_down": T.BF16}
    for l in range(L):
        for hf_norm, gg_norm in (("input_layernorm", "attn_norm"), ("post_attention_layernorm", "ffn_norm")):
            v = 1 + f16(H)
            hf[f"model.layers.{l}.{hf_norm}.weight"] = v
            gg.append((f"blk.{l}.{gg_norm}.weight", v, T.F32, None))
        for hf_name, gg_name, o, i in projs:
            block = "self_attn" if hf_name in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
            key = f"model.layers.{l}.{block}.{hf_name}"
            w = f16(o, i)
            qt = mlp_types.get(gg_name, T.F16)
            if qt in (T.Q4_1, T.Q5_0):
                raw = gguf.quants.quantize(w, qt)
                hf[key + ".weight"] = gguf.quants.dequantize(raw, qt).reshape(o, i)
                gg.append((f"blk.{l}.{gg_name}.weight", raw, qt, (o, i)))
            else:
                hf[key + ".weight"] = w
                g = w
                if arch == "llama" and hf_name == "q_proj":
                    g = permute(w, NH, NH)
                if arch == "llama" and hf_name == "k_proj":
                    g = permute(w, NH, NKV)
                if qt == T.BF16:
                    raw = gguf.quants.quantize(g, T.BF16)
                    hf[key + ".weight"] = gguf.quants.dequantize(raw, T.BF16).reshape(o, i)
                    gg.append((f"blk.{l}.{gg_name}.weight", raw, T.BF16, (o, i)))
                else:
                    gg.append((f"blk.{l}.{gg_name}.weight", g.astype(np.float16), T.F16, None))
            if arch == "qwen2" and hf_name in ("q_proj", "k_proj", "v_proj"):
                b = f16(o)
                hf[key + ".bias"] = b
                gg.append((f"blk.{l}.{gg_name}.bias", b, T.F32, None))
    w = gguf.GGUFWriter(os.path.join(out, f"tiny-{arch}.gguf"), arch)
    w.add_block_count(L)
    w.add_context_length(256)
    w.add_embedding_length(H)
    w.add_feed_forward_length(I)
    w.add_head_count(NH)
    w.add_head_count_kv(NKV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(50000.0)
    w.add_rope_dimension_count(HD)
    w.add_vocab_size(V_)
    w.add_uint32("tokenizer.ggml.bos_token_id", 1)
    w.add_uint32("tokenizer.ggml.eos_token_id", 2)
    for name, arr, qt, shape in gg:
        if shape is None:
            w.add_tensor(name, arr)
        else:
            w.add_tensor(name, np.ascontiguousarray(arr.view(np.uint8).reshape(shape[0], -1)), raw_dtype=qt)
    finish(w)
    folder = os.path.join(out, f"tiny-{arch}-hf")
    os.makedirs(folder, exist_ok=True)
    cfg = {"architectures": ["LlamaForCausalLM" if arch == "llama" else "Qwen2ForCausalLM"], "model_type": arch,
           "hidden_size": H, "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": NH,
           "num_key_value_heads": NKV, "head_dim": HD, "vocab_size": V_, "max_position_embeddings": 256,
           "rms_norm_eps": 1e-5, "rope_theta": 50000.0, "tie_word_embeddings": tied, "bos_token_id": 1, "eos_token_id": 2}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    save_safetensors(os.path.join(folder, "model.safetensors"), hf)


def vocab_gguf(src, out, pre):
    """A vocabulary-only GGUF (tokenizer.ggml.model gpt2) from a byte-level BPE tokenizer.json folder,
    as llama.cpp's converter writes it: every id's token, types (control for special added tokens,
    user-defined for the others), merges as "a b"."""
    d = json.load(open(os.path.join(src, "tokenizer.json")))
    vocab, added = d["model"]["vocab"], {a["id"]: a for a in d["added_tokens"]}
    n = max(max(vocab.values()), max(added, default=0)) + 1
    toks = ["[PAD%d]" % i for i in range(n)]
    for t, i in vocab.items():
        toks[i] = t
    for i, a in added.items():
        toks[i] = a["content"]
    types = [(3 if added[i]["special"] else 4) if i in added else 1 for i in range(n)]
    w = gguf.GGUFWriter(out, "llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(toks)
    w.add_token_types(types)
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in d["model"]["merges"]])
    w.add_bool("tokenizer.ggml.add_bos_token", False)
    finish(w)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "gguf"))
    ap.add_argument("--vocab-from", help="write only a vocabulary GGUF from this tokenizer folder to --out")
    ap.add_argument("--pre", default="default", help="tokenizer.ggml.pre for --vocab-from")
    args = ap.parse_args()
    if args.vocab_from:
        vocab_gguf(args.vocab_from, args.out, args.pre)
        return
    os.makedirs(args.out, exist_ok=True)
    make_dequant(args.out)
    make_meta(args.out)
    make_tiny(args.out, "llama")
    make_tiny(args.out, "qwen2")


if __name__ == "__main__":
    main()
