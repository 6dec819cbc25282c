#!/usr/bin/env python3
"""PyTorch + PEFT peer of bench_train_throughput: LoRA SFT steps on the SmolLM-135M shape.

  train_throughput_torch.py --threads N --steps S --warmup W [--seq 512] [--batch 1] [--rank 16]
                            [--ids FILE] [--dtype f32|bf16|autocast]

Builds LlamaForCausalLM with the SmolLM-135M shape (hidden 576, 30 layers, 9 heads, 3 KV heads,
intermediate 1536, vocab 49152, tied embeddings) with random weights in float32 and SDPA attention
(the fastest stock attention on CPU), wraps it in PEFT LoRA (r, alpha = 2r, dropout 0) on all seven
projections, and runs W untimed then S timed steps of forward + backward + AdamW (lr 1e-4, fused
implementation where available) with the
loss over all tokens. Step i uses rows i*batch .. i*batch+batch-1 of FILE's input_ids I32 [rows, seq]
when --ids is given (so both implementations see the same data), else seeded random ids.
--dtype picks the precision: f32 (everything float32); bf16 (the base model cast to bfloat16, as
from_pretrained(torch_dtype=torch.bfloat16) gives it, with PEFT's default of float32 adapters, so the
base products run on AMX/AVX512-BF16 through oneDNN and the activations between layers are bf16); autocast
(float32 weights under torch.autocast("cpu", torch.bfloat16), which casts each product's operands to
bf16 on the fly).
Prints one JSON line on stdout:
  {"impl":"pytorch+peft","dtype":..,"tokens_per_s":..,"step_s":..,"step_cpu_s":..,"peak_rss_mb":..,"final_loss":..,
   "threads":N,"torch":"..."}
peak_rss_mb is the process's ru_maxrss (includes the Python and torch runtime).
Written against torch 2.15.0, transformers 5.24.0, peft 0.21.2, safetensors 0.8.0.
"""
import argparse
import json
import resource
import sys
import time
import warnings


def fail(msg):
    print(f"train_throughput_torch: {msg}", file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description="PyTorch+PEFT LoRA training throughput (SmolLM-135M shape)")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True, help="timed steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps before timing")
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--ids", help="safetensors with input_ids I32 [rows, seq]")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--dtype", choices=["f32", "bf16", "autocast"], default="f32")
    args = ap.parse_args()
    if args.threads < 1 or args.steps < 1 or args.warmup < 0 or args.seq < 2 or args.batch < 1 \
            or args.rank < 1:
        fail("--threads, --steps, --batch, --rank must be >= 1, --warmup >= 0, --seq >= 2")

    warnings.filterwarnings("ignore")
    import torch
    import transformers
    from transformers import LlamaConfig, LlamaForCausalLM
    from peft import LoraConfig, get_peft_model
    transformers.logging.set_verbosity_error()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    vocab = 49152
    total_steps = args.warmup + args.steps
    rows = total_steps * args.batch

    if args.ids:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            ids_all = load_file(args.ids).get("input_ids")
        except (SafetensorError, OSError) as e:
            fail(f"{args.ids}: cannot read safetensors: {e}")
        if ids_all is None:
            fail(f"{args.ids}: tensor 'input_ids' missing")
        if ids_all.dtype != torch.int32 or ids_all.dim() != 2:
            fail(f"{args.ids}: input_ids is {ids_all.dtype} {list(ids_all.shape)}, expected I32 [rows, seq]")
        if ids_all.shape[1] != args.seq or ids_all.shape[0] < rows:
            fail(f"{args.ids}: input_ids is {list(ids_all.shape)}, need at least [{rows}, {args.seq}]")
        if int(ids_all.min()) < 0 or int(ids_all.max()) >= vocab:
            fail(f"{args.ids}: input_ids outside [0, {vocab})")
        ids_all = ids_all[:rows].to(torch.int64)
    else:
        ids_all = torch.randint(0, vocab, (rows, args.seq), dtype=torch.int64)

    cfg = LlamaConfig(hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, vocab_size=vocab,
                      max_position_embeddings=max(2048, args.seq), rms_norm_eps=1e-5,
                      rope_theta=10000.0, tie_word_embeddings=True, hidden_act="silu",
                      use_cache=False)
    cfg._attn_implementation = "sdpa"
    model = LlamaForCausalLM(cfg).to(torch.bfloat16 if args.dtype == "bf16" else torch.float32)
    lcfg = LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.0, bias="none",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                      "down_proj"], task_type="CAUSAL_LM")
    model = get_peft_model(model, lcfg)  # autocast_adapter_dtype (default): float32 adapters on a bf16 base
    if args.dtype == "bf16":
        lora_dtypes = {p.dtype for n, p in model.named_parameters() if "lora_" in n}
        if lora_dtypes != {torch.float32}:
            fail(f"PEFT made {lora_dtypes} adapters on the bf16 base; expected float32")
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    # fused=True is PyTorch's fastest stock AdamW on CPU; a strong peer keeps the comparison honest.
    try:
        opt = torch.optim.AdamW(params, lr=1e-4, fused=True)
    except (RuntimeError, TypeError):
        opt = torch.optim.AdamW(params, lr=1e-4)

    def step(i):
        ids = ids_all[i * args.batch:(i + 1) * args.batch]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.dtype == "autocast"):
            out = model(input_ids=ids, labels=ids)  # HF shifts: every next token is a target
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out.loss.item()

    for i in range(args.warmup):
        step(i)
    t0, c0 = time.perf_counter(), time.process_time()
    loss = float("nan")
    for i in range(args.warmup, total_steps):
        loss = step(i)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0

    print(json.dumps({
        "impl": "pytorch+peft",
        "dtype": args.dtype,
        "tokens_per_s": args.steps * args.batch * args.seq / elapsed,
        "step_s": elapsed / args.steps,
        "step_cpu_s": cpu / args.steps,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "final_loss": loss,
        "threads": args.threads,
        "torch": torch.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
