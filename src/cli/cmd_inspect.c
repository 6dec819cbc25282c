/* cmd_inspect.c: `retrace inspect MODEL_DIR [--adapter DIR]` loads and validates a Hugging Face model
 * folder (and a PEFT adapter) and describes it. Every tensor is read, so a bad file is found here. */
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_inspect_summary[] = "load and describe a model folder (and a PEFT adapter)";

static const char *arch_name(rt_arch a) {
    return a == RT_ARCH_MISTRAL ? "MistralForCausalLM" : a == RT_ARCH_QWEN2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
}

static const char *rope_name(rt_rope_kind k) {
    return k == RT_ROPE_LLAMA3 ? "llama3" : k == RT_ROPE_LINEAR ? "linear" : "default";
}

int rt_cmd_inspect(int argc, char **argv) {
    const char *model_dir = NULL, *adapter = NULL;
    for (int i = 1; i < argc; i++) {
        if (rt_cli_is_help(argv[i])) {
            printf("usage: retrace inspect MODEL_DIR [--adapter ADAPTER_DIR]\n\n"
                   "Loads config.json and every weight of a Llama, Mistral or Qwen2 folder (model.safetensors or a\n"
                   "sharded index; F32, BF16 or F16), and a PEFT LoRA adapter if given, then prints what they hold.\n"
                   "Exits 1 with a one-line reason naming the file and tensor or key when anything is wrong.\n");
            return RT_EXIT_OK;
        }
        if (strcmp(argv[i], "--adapter") == 0 && i + 1 < argc) adapter = argv[++i];
        else if (argv[i][0] == '-') return rt_cli_usage_error("inspect", "unknown option '%s'", argv[i]);
        else if (!model_dir) model_dir = argv[i];
        else return rt_cli_usage_error("inspect", "unexpected argument '%s'", argv[i]);
    }
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
