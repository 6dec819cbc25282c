#!/usr/bin/env python3
"""Generate the reference fixtures under tests/fixtures/models/ (developer tool, never run by ctest).

Written and run with: torch 2.15.0, transformers 5.24.0, peft 0.21.2, safetensors 0.8.0 (CPU, float32).
Regenerate with:  python3 tools/make_fixtures.py   (about 5 s on 2 cores)

For each family (llama, mistral, qwen2, tied) it builds a tiny random model with Hugging Face
transformers, wraps it in a PEFT rsLoRA adapter with non-zero B, and writes
  <name>/model/        config.json + model.safetensors      (save_pretrained)
  <name>/adapter/      adapter_config.json + adapter_model.safetensors (PEFT save_pretrained)
  <name>/reference.safetensors   inputs and the reference outputs the C tests compare against
See tests/fixtures/models/README.md for the tensor list and their exact meaning.

Everything is seeded, so a rerun with the same package versions gives the same files up to float
rounding differences of the BLAS in use.
"""
import argparse
import copy
import json
import math
import os
import sys

import torch
import transformers
import peft
import safetensors
from safetensors.torch import save_file, load_file
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM)
from peft import LoraConfig, PeftModel, get_peft_model

EXPECTED = {"torch": "2.15.0", "transformers": "5.24.0", "peft": "0.21.2", "safetensors": "0.8.0"}

VOCAB = 320
BATCH, SEQ = 2, 24
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
ADAM_STEPS = 5
GEN_PROMPT, GEN_NEW = 8, 10
# Seeds per family so that adding a family never changes the others' files. qwen2 uses 3010 because
# 3000 gave a greedy step whose top-2 logits were only 2e-4 apart (a flip risk for float noise in C).
SEEDS = {"llama": 1000, "mistral": 2000, "qwen2": 3010, "tied": 4000}

COMMON = dict(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, head_dim=16, vocab_size=VOCAB, max_position_embeddings=128,
              rms_norm_eps=1e-5, initializer_range=0.02, hidden_act="silu",
              attention_dropout=0.0, bos_token_id=1, eos_token_id=2, pad_token_id=0)

# original_max_position_embeddings is 64, not 32: with head_dim 16 and theta 5e5 the rope wavelengths
# are 6.3, 32.5, 168, 872, ... so 32 would leave no frequency in the interpolated band (32.5 > 32).
# With 64 the bands are: wavelen < 16 kept, 16..64 interpolated, > 64 divided by the factor.
LLAMA3_SCALING = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 64}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def make_config(name):
    if name == "llama":
        cfg = LlamaConfig(**COMMON, rope_theta=500000.0, rope_scaling=dict(LLAMA3_SCALING),
                          tie_word_embeddings=False, attention_bias=False, mlp_bias=False)
        cls = LlamaForCausalLM
    elif name == "mistral":
        cfg = MistralConfig(**COMMON, rope_theta=10000.0, sliding_window=8, tie_word_embeddings=False)
        cls = MistralForCausalLM
    elif name == "qwen2":
        cfg = Qwen2Config(**COMMON, rope_theta=1000000.0, tie_word_embeddings=False,
                          use_sliding_window=False, sliding_window=None)
        cls = Qwen2ForCausalLM
    elif name == "tied":
        cfg = LlamaConfig(**COMMON, rope_theta=10000.0, tie_word_embeddings=True,
                          attention_bias=False, mlp_bias=False)
        cls = LlamaForCausalLM
    else:
        raise ValueError(name)
    cfg._attn_implementation = "eager"
    return cls, cfg


def build_model(name):
    cls, cfg = make_config(name)
    model = cls(cfg).to(torch.float32)  # post_init draws normal(0, 0.02) weights from the torch RNG
    assert model.config._attn_implementation == "eager", model.config._attn_implementation
    with torch.no_grad():
        # HF initialises RMSNorm weights to exactly 1, which would hide a missing or misplaced norm
        # weight in the C code; perturb them.
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif pname.endswith("_proj.bias"):
                # Qwen2's q/k/v biases are zero at init; make them matter.
                p.copy_(0.1 * torch.randn_like(p))
    if name == "tied":
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    if name == "qwen2":
        assert model.model.layers[0].self_attn.q_proj.bias is not None
        assert model.model.layers[0].self_attn.o_proj.bias is None
    return model


def make_batch(gen):
    input_ids = torch.randint(0, VOCAB, (BATCH, SEQ), generator=gen, dtype=torch.int64)
    mask = torch.ones(BATCH, SEQ, dtype=torch.int32)
    mask[0, 0:6] = 0
    mask[1, 0:10] = 0
    mask[1, 21:24] = 0
    labels = torch.where(mask == 1, input_ids, torch.full_like(input_ids, -100))
    return input_ids, mask, labels


def manual_loss(logits, input_ids, mask):
    """The loss as the README defines it; must equal HF's internal shifted loss."""
    lg = logits[:, :-1, :].reshape(-1, logits.shape[-1]).double()
    tgt = input_ids[:, 1:].reshape(-1)
    m = mask[:, 1:].reshape(-1).bool()
    return torch.nn.functional.cross_entropy(lg[m], tgt[m]).float()


def fix_config_json(model_dir, name):
    """transformers 5 writes rope settings only as `rope_parameters`; checkpoints on the Hub (Llama 3.x,
    SmolLM2, Qwen2.5, Mistral) carry the older top-level `rope_theta` / `rope_scaling`. Write both,
    consistently, so the C reader can be tested on the common form and the new one agrees."""
    path = os.path.join(model_dir, "config.json")
    with open(path) as f:
        c = json.load(f)
    rp = c.get("rope_parameters")
    assert isinstance(rp, dict) and "rope_theta" in rp, rp
    c["rope_theta"] = rp["rope_theta"]
    if rp.get("rope_type", "default") != "default":
        c["rope_scaling"] = {k: v for k, v in rp.items() if k != "rope_theta"}
    else:
        c["rope_scaling"] = None
    with open(path, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")


def tidy_adapter_dir(adapter_dir):
    """PEFT stores target_modules from a set (order changes run to run) and adds a model-card
    README.md; sort the one and drop the other so regenerating gives byte-identical files."""
    path = os.path.join(adapter_dir, "adapter_config.json")
    with open(path) as f:
        c = json.load(f)
    c["target_modules"] = sorted(c["target_modules"])
    with open(path, "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
        f.write("\n")
    card = os.path.join(adapter_dir, "README.md")
    if os.path.exists(card):
        os.remove(card)


def check_rope(model, name):
    rot = model.model.rotary_emb
    inv = rot.inv_freq.detach().clone()
    dim = model.config.head_dim
    theta = model.config.rope_parameters["rope_theta"]
    plain = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    log(f"  [{name}] rope theta={theta} attention_scaling={rot.attention_scaling}")
    log(f"  [{name}] inv_freq plain : {[f'{x:.6g}' for x in plain.tolist()]}")
    log(f"  [{name}] inv_freq model : {[f'{x:.6g}' for x in inv.tolist()]}")
    if name == "llama":
        sc = LLAMA3_SCALING
        wl = 2 * math.pi / plain
        hi = sc["original_max_position_embeddings"] / sc["high_freq_factor"]
        lo = sc["original_max_position_embeddings"] / sc["low_freq_factor"]
        kept = [i for i in range(len(wl)) if wl[i] < hi]
        scaled = [i for i in range(len(wl)) if wl[i] > lo]
        interp = [i for i in range(len(wl)) if hi <= wl[i] <= lo]
        log(f"  [{name}] llama3 bands: kept {kept} interpolated {interp} divided {scaled}")
        assert kept and scaled and interp, "llama3 scaling must exercise all three bands"
        for i in kept:
            assert torch.isclose(inv[i], plain[i], rtol=1e-6)
        for i in scaled:
            assert torch.isclose(inv[i], plain[i] / sc["factor"], rtol=1e-6)
        for i in interp:
            assert plain[i] / sc["factor"] < inv[i] < plain[i]
        assert rot.attention_scaling == 1.0
    else:
        assert torch.allclose(inv, plain, rtol=1e-6)


def check_sliding_window(model, input_ids):
    """Show that HF's eager path applies Mistral's window (so the fixture tests it) and pin down its
    exact width: query t sees keys t-W+1 .. t (W keys including itself)."""
    W = model.config.sliding_window
    with torch.no_grad():
        with_w = model(input_ids=input_ids).logits
        cfg = copy.deepcopy(model.config)
        cfg.sliding_window = None
        nowin = MistralForCausalLM(cfg)
        nowin.load_state_dict(model.state_dict())
        nowin.eval()
        without_w = nowin(input_ids=input_ids).logits
        diff = (with_w - without_w).abs()
        # Positions < W see the whole prefix either way, so they must agree exactly.
        assert diff[:, :W].max().item() < 1e-6, diff[:, :W].max().item()
        assert diff[:, W:].max().item() > 1e-4, diff[:, W:].max().item()
        log(f"  [mistral] sliding window {W}: max |logits(window) - logits(no window)| = "
            f"{diff.max().item():.3e} (0 for t < {W})")
        # One layer: changing token 0 must change position W-1 but not position W.
        cfg1 = copy.deepcopy(model.config)
        cfg1.num_hidden_layers = 1
        one = MistralForCausalLM(cfg1)
        one.load_state_dict(model.state_dict(), strict=False)
        one.eval()
        ids2 = input_ids.clone()
        ids2[:, 0] = (ids2[:, 0] + 1) % VOCAB
        d = (one(input_ids=input_ids).logits - one(input_ids=ids2).logits).abs().amax(dim=(0, 2))
        assert d[W - 1] > 1e-6 and d[W:].max() == 0.0, d
        log(f"  [mistral] window width confirmed: query t attends keys t-{W - 1}..t")


def lora_key(param_name):
    # Parameter names carry the adapter name ("lora_A.default.weight"); PEFT's saved keys drop it.
    return param_name.replace(".lora_A.default.", ".lora_A.").replace(".lora_B.default.", ".lora_B.")


def greedy_margins(model, prompt, new_ids):
    """Re-derive the greedy continuation without the KV cache and report the smallest top-1/top-2
    logit gap, so a near-tie (which float noise in C could flip) is caught here."""
    seq = torch.cat([prompt, new_ids]).unsqueeze(0)
    with torch.no_grad():
        lg = model(input_ids=seq).logits[0]
    margins = []
    for i in range(len(new_ids)):
        row = lg[len(prompt) - 1 + i]
        top2 = torch.topk(row, 2)
        assert top2.indices[0].item() == new_ids[i].item(), "generate() disagrees with argmax"
        margins.append((top2.values[0] - top2.values[1]).item())
    return min(margins)


def make_family(name, outdir):
    seed = SEEDS[name]
    torch.manual_seed(seed)
    model = build_model(name)
    model.eval()
    log(f"== {name}: {type(model).__name__}, {sum(p.numel() for p in model.parameters())} params")
    check_rope(model, name)

    gen = torch.Generator().manual_seed(seed + 1)
    input_ids, mask, labels = make_batch(gen)

    fam = os.path.join(outdir, name)
    model_dir = os.path.join(fam, "model")
    adapter_dir = os.path.join(fam, "adapter")
    model.save_pretrained(model_dir, safe_serialization=True)
    fix_config_json(model_dir, name)
    ref = {}

    # ---- base model (no adapter)
    with torch.no_grad():
        out = model(input_ids=input_ids, labels=labels)
    ref["base_logits"] = out.logits.detach().clone()
    ref["base_loss"] = out.loss.detach().reshape(1).clone()
    assert abs(manual_loss(out.logits, input_ids, mask).item() - out.loss.item()) < 1e-5
    log(f"  base_loss {out.loss.item():.6f}")

    if name == "mistral":
        check_sliding_window(model, input_ids)

    if name == "llama":
        # Full fine-tuning gradients of every base parameter.
        model.zero_grad(set_to_none=True)
        for p in model.parameters():
            p.requires_grad_(True)
        out = model(input_ids=input_ids, labels=labels)
        out.loss.backward()
        saved = load_file(os.path.join(model_dir, "model.safetensors"))
        named = dict(model.named_parameters())
        for k in sorted(saved):
            g = named[k].grad
            assert g is not None and g.shape == saved[k].shape, k
            ref["base_grad." + k] = g.detach().clone()
        assert set(named) == set(saved), set(named) ^ set(saved)
        model.zero_grad(set_to_none=True)

    # The saved checkpoint reloads to the same logits (checks fix_config_json kept rope intact).
    cls, _ = make_config(name)
    reloaded = cls.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    reloaded.eval()
    with torch.no_grad():
        d = (reloaded(input_ids=input_ids).logits - ref["base_logits"]).abs().max().item()
    assert d == 0.0, f"reloaded checkpoint differs by {d}"

    # ---- adapter
    torch.manual_seed(seed + 2)
    lcfg = LoraConfig(r=8, lora_alpha=16, use_rslora=True, target_modules=list(TARGETS),
                      lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
    pm = get_peft_model(model, lcfg)
    lora_params = []
    with torch.no_grad():
        for pname, p in pm.named_parameters():
            if "lora_B" in pname:
                p.copy_(0.05 * torch.randn_like(p))
            if p.requires_grad:
                assert "lora_" in pname, pname
                lora_params.append((pname, p))
    n_layers = model.config.num_hidden_layers
    assert len(lora_params) == 2 * len(TARGETS) * n_layers, len(lora_params)
    scaling = pm.base_model.model.model.layers[0].self_attn.q_proj.scaling["default"]
    assert abs(scaling - 16 / math.sqrt(8)) < 1e-6, scaling
    pm.save_pretrained(adapter_dir, safe_serialization=True)
    tidy_adapter_dir(adapter_dir)
    saved_adapter = load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
    assert set(saved_adapter) == {lora_key(n) for n, _ in lora_params}, \
        set(saved_adapter) ^ {lora_key(n) for n, _ in lora_params}

    pm.eval()
    # Greedy generation with the adapter as saved (before any training step).
    if name in ("llama", "qwen2"):
        prompt = input_ids[0, :GEN_PROMPT].clone()
        with torch.no_grad():
            g = pm.generate(input_ids=prompt.unsqueeze(0), attention_mask=torch.ones(1, GEN_PROMPT,
                            dtype=torch.int64), do_sample=False, max_new_tokens=GEN_NEW,
                            min_new_tokens=GEN_NEW, eos_token_id=None, pad_token_id=0)
        new = g[0, GEN_PROMPT:]
        assert new.numel() == GEN_NEW, g
        m = greedy_margins(pm, prompt, new)
        log(f"  greedy {new.tolist()} (smallest top-1/top-2 logit gap {m:.3e})")
        assert m > 5e-4, "near-tie in greedy generation; pick another seed"
        ref["generate_prompt"] = prompt.to(torch.int32)
        ref["generate_greedy"] = new.to(torch.int32)

    # Logits, loss and LoRA gradients with the adapter.
    pm.zero_grad(set_to_none=True)
    out = pm(input_ids=input_ids, labels=labels)
    out.loss.backward()
    ref["logits"] = out.logits.detach().clone()
    ref["loss"] = out.loss.detach().reshape(1).clone()
    assert abs(manual_loss(out.logits, input_ids, mask).item() - out.loss.item()) < 1e-5
    for pname, p in lora_params:
        assert p.grad is not None and p.grad.abs().max() > 0, pname
        ref["grad." + lora_key(pname)] = p.grad.detach().clone()
    log(f"  loss {out.loss.item():.6f}, max|logits-base_logits| "
        f"{(ref['logits'] - ref['base_logits']).abs().max().item():.3e}")

    # Adapter reloads through PEFT to the same logits (the path check_export.py uses).
    base2 = cls.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    pm2 = PeftModel.from_pretrained(base2, adapter_dir)
    pm2.eval()
    with torch.no_grad():
        d = (pm2(input_ids=input_ids).logits - ref["logits"]).abs().max().item()
    assert d < 1e-6, f"reloaded adapter differs by {d}"

    # Five AdamW steps over the LoRA weights only.
    params = [p for _, p in lora_params]
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    losses = []
    pm.train()
    for step in range(ADAM_STEPS):
        opt.zero_grad(set_to_none=True)
        out = pm(input_ids=input_ids, labels=labels)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(out.loss.item())
    assert abs(losses[0] - ref["loss"].item()) < 1e-6
    ref["adam_losses"] = torch.tensor(losses, dtype=torch.float32)
    for pname, p in lora_params:
        ref["final." + lora_key(pname)] = p.detach().clone()
    log(f"  adam losses {[f'{x:.6f}' for x in losses]}")

    ref["input_ids"] = input_ids.to(torch.int32)
    ref["loss_mask"] = mask.to(torch.int32)
    for k, v in ref.items():
        if v.is_floating_point():
            assert v.dtype == torch.float32, k
        ref[k] = v.contiguous()
    # One metadata key: safetensors writes the metadata map in hash order, so several keys would make
    # the header differ from run to run.
    meta = {"generated_by": f"tools/make_fixtures.py family={name} torch={torch.__version__} "
                            f"transformers={transformers.__version__} peft={peft.__version__} "
                            f"safetensors={safetensors.__version__}"}
    save_file(ref, os.path.join(fam, "reference.safetensors"), metadata=meta)
    return ref


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "tests", "fixtures", "models"))
    ap.add_argument("--only", nargs="*", default=list(SEEDS))
    args = ap.parse_args()
    have = {"torch": torch.__version__.split("+")[0], "transformers": transformers.__version__,
            "peft": peft.__version__, "safetensors": safetensors.__version__}
    for k, v in EXPECTED.items():
        if have[k] != v:
            log(f"warning: {k} {have[k]} differs from {v} used for the committed fixtures")
    torch.set_default_dtype(torch.float32)
    out = os.path.normpath(args.out)
    for name in args.only:
        make_family(name, out)
    total = 0
    for root, _, files in os.walk(out):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    log(f"wrote {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
