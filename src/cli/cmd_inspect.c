/* cmd_inspect.c: `retrace inspect MODEL_DIR [--adapter DIR]` loads and validates a Hugging Face model
 * folder (and a PEFT adapter) and describes it. Every tensor is read, so a bad file is found here. */
#include "cli/cli.h"

const char rt_cmd_inspect_summary[] = "load and describe a model folder (and a PEFT adapter)";

static const char *arch_name(rt_arch a) {
    return a == RT_ARCH_MISTRAL ? "MistralForCausalLM" : a == RT_ARCH_QWEN2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
}

static const char *rope_name(rt_rope_kind k) {
    return k == RT_ROPE_LLAMA3 ? "llama3" : k == RT_ROPE_LINEAR ? "linear" : "default";
}

static void usage(void) {
    printf("usage: retrace inspect MODEL_DIR [--adapter ADAPTER_DIR]\n\n"
           "Loads config.json and every weight of a Llama, Mistral or Qwen2 folder (model.safetensors or a\n"
           "sharded index; F32, BF16 or F16), and a PEFT LoRA adapter if given, then prints what they hold.\n"
           "Exits 1 with a one-line reason naming the file and tensor or key when anything is wrong.\n\n"
           "  -m, --model DIR          the model folder (or give it as MODEL_DIR)\n"
           "  --adapter, --lora DIR    a PEFT adapter to load on it\n");
}

int rt_cmd_inspect(int argc, char **argv) {
    const char *model_dir = NULL, *adapter = NULL;
    const rt_arg args[] = {RT_ARG_S("-m|--model", &model_dir), RT_ARG_S("--adapter|--lora", &adapter), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"inspect", usage, args, 0, 1, 0};
    const char *pos[1];
    int n_pos = 0, rc = rt_args_parse(&spec, argc, argv, pos, &n_pos);
    if (rc) return RT_ARGS_EXIT(rc);
    if (n_pos && model_dir) return rt_cli_usage_error("inspect", "give the model as MODEL_DIR or --model, not both");
    if (n_pos) model_dir = pos[0];
    if (!model_dir) return rt_cli_usage_error("inspect", "missing MODEL_DIR (see --help)");
    rt_model *m;
    if (rt_model_load(model_dir, &m) != RT_OK) return rt_cli_fail("inspect");
    if (adapter && rt_lora_load_peft(m, adapter) != RT_OK) {
        rt_model_free(m);
        return rt_cli_fail("inspect");
    }
    const rt_model_config *c = &m->cfg;
    printf("model: %s\n", model_dir);
    printf("  architecture: %s\n", arch_name(c->arch));
    printf("  parameters: %zu (%.1fM)\n", rt_model_param_count(m), (double)rt_model_param_count(m) / 1e6);
    printf("  layers %d, hidden %d, intermediate %d, heads %d, kv heads %d, head dim %d, vocab %d\n", c->n_layers,
           c->hidden_size, c->intermediate_size, c->n_heads, c->n_kv_heads, c->head_dim, c->vocab_size);
    printf("  rope: %s, theta %g", rope_name(c->rope.kind), c->rope.theta);
    if (c->rope.kind != RT_ROPE_DEFAULT) printf(", factor %g", c->rope.factor);
    printf("\n  tied embeddings: %s, q/k/v bias: %s, sliding window: %d, rms eps %g\n",
           c->tie_word_embeddings ? "yes" : "no", c->attention_bias ? "yes" : "no", c->sliding_window, c->rms_norm_eps);
    if (m->has_lora) {
        printf("adapter: %s\n  r %d, alpha %g, %s scale %g, dropout %g, targets:", adapter, m->lora_cfg.r,
               m->lora_cfg.alpha, m->lora_cfg.rslora ? "rsLoRA" : "LoRA", m->lora_scale, m->lora_cfg.dropout);
        for (int p = 0; p < RT_N_PROJ; p++)
            if (m->lora_cfg.proj_mask & (1u << p)) printf(" %s", rt_proj_name((rt_proj)p));
        printf("\n");
    }
    rt_model_free(m);
    return RT_EXIT_OK;
}
