#!/usr/bin/env python3
"""check_trl_rows.py: compares `retrace train --dump-tokens` with TRL's own tokenization of the same rows.

usage: check_trl_rows.py TOKENIZER_DIR ROWS.jsonl DUMP.jsonl

For each row kind TRL's SFTTrainer reads ({"prompt","completion"}, {"text"}, {"messages"}), builds the
trainer's dataset the way TRL does (a tiny random Llama as the model: only the data path is used) and checks
that retrace's input_ids are TRL's and retrace's target mask is TRL's loss mask (completion_mask for
prompt/completion, every token for text, assistant_masks with assistant_only_loss for messages; newer
TRL folds these into labels, -100 where there is no loss). The first
token is never a target in retrace (nothing predicts it), so masks are compared from the second token on.

Exit status: 0 all equal, 1 a difference (printed), 77 TRL or its dependencies are missing (printed).
"""
import json
import os
import sys
import tempfile

try:
    import torch  # noqa: F401
    from datasets import Dataset
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"skip: {e} (pip install trl to run this check)")
    sys.exit(77)

# The tokenizer's ChatML template with TRL's {% generation %} markers around what the assistant says, so
# that TRL's assistant_only_loss can mark it. It renders exactly the text the plain template renders.
CHATML_GENERATION = (
    "{% for message in messages %}{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' + '\\n' }}{% endgeneration %}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def kind_of(row):
    return "messages" if "messages" in row else "text" if "text" in row and "prompt" not in row else "prompt"


def trl_rows(tok_dir, rows, kind, workdir):
    tok = AutoTokenizer.from_pretrained(tok_dir)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    plain_template = tok.chat_template
    kwargs = {}
    if kind == "messages":
        tok.chat_template = CHATML_GENERATION
        for r in rows:  # the marked template must render what the tokenizer's own template renders
            assert tok.apply_chat_template(r["messages"], tokenize=False) == \
                AutoTokenizer.from_pretrained(tok_dir).apply_chat_template(r["messages"], tokenize=False,
                                                                           chat_template=plain_template)
        kwargs["assistant_only_loss"] = True
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1)
    args = SFTConfig(output_dir=workdir, report_to=[], max_length=None, use_cpu=True, bf16=False, **kwargs)
    trainer = SFTTrainer(model=LlamaForCausalLM(cfg), args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=tok)
    out = []
    for ex in trainer.train_dataset:
        ids = list(ex["input_ids"])
        if "labels" in ex:  # TRL >= 1.x folds its masks into labels (-100: no loss)
            mask = [int(label != -100) for label in ex["labels"]]
        elif "assistant_masks" in ex:
            mask = list(ex["assistant_masks"])
        elif "completion_mask" in ex:
            mask = list(ex["completion_mask"])
        else:
            mask = [1] * len(ids)
        out.append((ids, mask))
    return out


def main():
    tok_dir, rows_path, dump_path = sys.argv[1:4]
    rows = [json.loads(l) for l in open(rows_path) if l.strip()]
    ours = [json.loads(l) for l in open(dump_path) if l.strip()]
    if len(rows) != len(ours):
        print(f"FAIL: {len(rows)} rows but {len(ours)} tokenized examples")
        return 1
    bad = 0
    with tempfile.TemporaryDirectory() as workdir:
        for kind in ("prompt", "text", "messages"):
            idx = [i for i, r in enumerate(rows) if kind_of(r) == kind]
            if not idx:
                continue
            ref = trl_rows(tok_dir, [rows[i] for i in idx], kind, os.path.join(workdir, kind))
            for i, (ids, mask) in zip(idx, ref):
                mine = ours[i]
                if mine["input_ids"] != ids:
                    print(f"FAIL row {i + 1} ({kind}): input_ids differ\n  retrace {mine['input_ids']}\n  TRL     {ids}")
                    bad += 1
                elif mine["mask"][1:] != mask[1:]:
                    print(f"FAIL row {i + 1} ({kind}): masks differ\n  retrace {mine['mask']}\n  TRL     {mask}")
                    bad += 1
            print(f"{kind}: {len(idx)} rows compared with TRL")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
