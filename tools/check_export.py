#!/usr/bin/env python3
"""Check that a model (and optionally a LoRA adapter) written by retrace loads in the reference
implementation (Hugging Face transformers + PEFT) and gives the logits retrace computed.

  check_export.py --model MODEL_DIR [--adapter ADAPTER_DIR] --ref FILE [--tol 1e-4]

FILE is a safetensors file with input_ids I32 [B,T] and logits F32 [B,T,V] written by retrace. If it
also holds loss F32 [1] and loss_mask I32 [B,T], the loss is checked too (HF's shifted causal-LM loss
with labels = input_ids where loss_mask == 1, else -100). Prints the max absolute difference; exits
0 when every difference is within --tol, 1 when not, 2 when the inputs cannot be loaded.
Developer tool (torch, transformers, peft, safetensors from PyPI); never run by ctest.
Written against torch 2.15.0, transformers 5.24.0, peft 0.21.2, safetensors 0.8.0.
"""
import argparse
import os
import sys


def fail(msg):
    print(f"check_export: {msg}", file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description="Compare retrace logits with transformers/PEFT.")
    ap.add_argument("--model", required=True, help="HF model dir (config.json + safetensors)")
    ap.add_argument("--adapter", help="PEFT adapter dir (adapter_config.json + adapter_model.safetensors)")
    ap.add_argument("--ref", required=True, help="safetensors with input_ids I32 [B,T], logits F32 [B,T,V]")
    ap.add_argument("--tol", type=float, default=1e-4, help="max absolute difference allowed")
    args = ap.parse_args()

    import warnings
    warnings.filterwarnings("ignore", category=FutureWarning)
    import torch
    import transformers
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    for path, what in ((os.path.join(args.model, "config.json"), "model config"),
                       (args.ref, "reference file")):
        if not os.path.isfile(path):
            fail(f"{path}: {what} not found")
    if args.adapter and not os.path.isfile(os.path.join(args.adapter, "adapter_config.json")):
        fail(f"{os.path.join(args.adapter, 'adapter_config.json')}: adapter config not found")

    try:
        ref = load_file(args.ref)
    except (SafetensorError, OSError, ValueError) as e:
        fail(f"{args.ref}: cannot read safetensors: {e}")
    for key, dtype, rank in (("input_ids", torch.int32, 2), ("logits", torch.float32, 3)):
        if key not in ref:
            fail(f"{args.ref}: tensor '{key}' missing")
        if ref[key].dtype != dtype or ref[key].dim() != rank:
            fail(f"{args.ref}: tensor '{key}' is {ref[key].dtype} {list(ref[key].shape)}, "
                 f"expected {dtype} with {rank} dims")
    ids = ref["input_ids"].to(torch.int64)
    want = ref["logits"]
    if tuple(want.shape[:2]) != tuple(ids.shape):
        fail(f"{args.ref}: logits shape {list(want.shape)} does not match input_ids {list(ids.shape)}")

    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            args.model, dtype=torch.float32, attn_implementation="eager")
    except Exception as e:  # transformers raises many types; all mean "does not load"
        fail(f"{args.model}: transformers cannot load the model: {type(e).__name__}: {e}")
    if args.adapter:
        from peft import PeftModel
        try:
            model = PeftModel.from_pretrained(model, args.adapter)
        except Exception as e:
            fail(f"{args.adapter}: PEFT cannot load the adapter: {type(e).__name__}: {e}")
    model.eval()
    vocab = model.config.vocab_size if not args.adapter else model.base_model.model.config.vocab_size
    if want.shape[2] != vocab:
        fail(f"{args.ref}: logits vocab {want.shape[2]} but the model's vocab_size is {vocab}")
    if int(ids.min()) < 0 or int(ids.max()) >= vocab:
        fail(f"{args.ref}: input_ids outside [0, {vocab})")

    labels = None
    if "loss" in ref and "loss_mask" in ref:
        labels = torch.where(ref["loss_mask"] == 1, ids, torch.full_like(ids, -100))
    with torch.no_grad():
        out = model(input_ids=ids, labels=labels)
    diff = (out.logits.float() - want).abs().max().item()
    ok = diff <= args.tol
    print(f"logits: max abs diff {diff:.3e} over {list(want.shape)} (tol {args.tol:g})")
    if labels is not None:
        ldiff = abs(out.loss.item() - ref["loss"].reshape(-1)[0].item())
        ok = ok and ldiff <= args.tol
        print(f"loss: reference {out.loss.item():.6f}, retrace {ref['loss'].reshape(-1)[0].item():.6f}, "
              f"abs diff {ldiff:.3e}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
