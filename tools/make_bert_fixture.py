#!/usr/bin/env python3
"""Writes tests/fixtures/bert/: two tiny random encoders and the embeddings transformers gives them.

  tiny-bert/  BertModel (2 layers, hidden 32, 4 heads), float32 weights, a WordPiece tokenizer trained
              here (BertNormalizer, BertPreTokenizer, [CLS] $A [SEP]), sentence-transformers files
              (modules.json, 1_Pooling/config.json with mean pooling, sentence_bert_config.json with
              max_seq_length 48), the keys saved with the "bert." prefix of BertForMaskedLM checkpoints.
  tiny-xlmr/  XLMRobertaModel (2 layers, hidden 32), bfloat16 weights, a Unigram tokenizer trained here
              (Metaspace, <s> $A </s>), no sentence-transformers files (so CLS pooling), pad id 1 and
              positions from 2 as XLM-R has them, max_position_embeddings 66 (64 tokens).
  ref.json    for each model and sentence: the token ids (truncated as tokenizer(truncation=True) does),
              and the L2-normalised CLS and mean-pooled last hidden states, from transformers in float32
              (bfloat16 weights are widened to float32 first, as retrace reads them).

Weights are drawn with a large spread (not the 0.02 init) so that every layer changes the output.
Run by hand (needs torch, transformers, tokenizers, sentence-transformers); the output is committed:
    python3 tools/make_bert_fixture.py
"""
import json
import os
import shutil

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "bert")
CORPUS = os.path.join(HERE, "..", "tests", "fixtures", "tok", "train_corpus.txt")

SENTENCES = [
    "take the apple from the fridge",
    "Open the drawer, then put the knife in it.",
    "task: find a clean mug | action: go to cabinet 3 | observation: you see a mug and a plate",
    "The quick brown fox jumps over the lazy dog.",
    "résumé café naïve — Ünïcödé text",
    "x",
    "",
    "[PAD] <pad> literal pad tokens inside a text",
    "def add(a, b): return a + b  # tool call api_versions numpy 1.26",
    # Longer than both models' limits: checks truncation.
    " ".join(["the agent opened the door and walked into the kitchen to look for the apple"] * 6),
    "ERROR: tool 'search' failed with status 404 after 3 retries",
    "mixed CASE Words AND numbers 12345 67890",
]


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))


def train_wordpiece(path):
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train([CORPUS], trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    tok.decoder = decoders.WordPiece()
    tok.save(path)
    return tok


def train_unigram(path):
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=1000, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>")
    tok.train([CORPUS], trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    tok.decoder = decoders.Metaspace()
    tok.save(path)
    return tok


def reference(model, tok_path, max_len, special):
    fast = PreTrainedTokenizerFast(tokenizer_file=tok_path, **special)
    enc = fast(SENTENCES, truncation=True, max_length=max_len, padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        hidden = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    cls = torch.nn.functional.normalize(hidden[:, 0], dim=-1)
    mean = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    out = []
    for i, s in enumerate(SENTENCES):
        n = int(enc["attention_mask"][i].sum())
        out.append({"text": s, "ids": enc["input_ids"][i, :n].tolist(), "cls": cls[i].tolist(), "mean": mean[i].tolist()})
    return out


def make_bert():
    d = os.path.join(OUT, "tiny-bert")
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    tok = train_wordpiece(os.path.join(d, "tokenizer.json"))
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64, type_vocab_size=2, layer_norm_eps=1e-12,
                     hidden_act="gelu", pad_token_id=0)
    torch.manual_seed(1)
    model = BertModel(cfg, add_pooling_layer=False)
    randomize(model, 11)
    model.save_pretrained(d, safe_serialization=True)
    # Re-save with the "bert." prefix of BertForMaskedLM checkpoints (the loader accepts both).
    from safetensors.torch import load_file, save_file
    st = os.path.join(d, "model.safetensors")
    save_file({"bert." + k: v.contiguous() for k, v in load_file(st).items()}, st, metadata={"format": "pt"})
    with open(os.path.join(d, "modules.json"), "w") as f:
        json.dump([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                   {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}], f, indent=2)
    with open(os.path.join(d, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
                   "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False}, f, indent=2)
    with open(os.path.join(d, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": 48, "do_lower_case": False}, f)
    special = dict(cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]")
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(dict(special, tokenizer_class="BertTokenizer", model_max_length=512, do_lower_case=True), f, indent=2)
    ref = reference(model, os.path.join(d, "tokenizer.json"), 48, special)
    check_sentence_transformers(d, ref)
    return ref


def check_sentence_transformers(d, ref):
    """sentence-transformers must read the same pooling and limit from the files as the reference."""
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(d, device="cpu")
    emb = st.encode(SENTENCES, convert_to_tensor=True, normalize_embeddings=True)
    want = torch.tensor([r["mean"] for r in ref])
    diff = (emb - want).abs().max().item()
    assert diff < 1e-5, f"sentence-transformers disagrees with the mean-pooling reference: {diff}"


def make_xlmr():
    d = os.path.join(OUT, "tiny-xlmr")
    os.makedirs(d, exist_ok=True)
    tok = train_unigram(os.path.join(d, "tokenizer.json"))
    cfg = XLMRobertaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                           intermediate_size=64, max_position_embeddings=66, type_vocab_size=1, layer_norm_eps=1e-5,
                           hidden_act="gelu", pad_token_id=1, bos_token_id=0, eos_token_id=2)
    torch.manual_seed(2)
    model = XLMRobertaModel(cfg, add_pooling_layer=False)
    randomize(model, 12)
    # Stored as bfloat16; the reference runs on the same rounded values in float32.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    model.to(torch.bfloat16).save_pretrained(d, safe_serialization=True)
    model.to(torch.float32)
    special = dict(bos_token="<s>", cls_token="<s>", eos_token="</s>", sep_token="</s>", pad_token="<pad>", unk_token="<unk>")
    return reference(model, os.path.join(d, "tokenizer.json"), 64, special)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    ref = {"bert": make_bert(), "xlmr": make_xlmr()}
    with open(os.path.join(OUT, "ref.json"), "w") as f:
        json.dump(ref, f)
    total = sum(os.path.getsize(os.path.join(r, n)) for r, _, ns in os.walk(OUT) for n in ns)
    print(f"wrote {OUT}: {total} bytes")


if __name__ == "__main__":
    main()
