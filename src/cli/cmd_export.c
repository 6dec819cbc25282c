/* cmd_export.c: `retrace export --gguf OUT.gguf` writes what llama.cpp loads: a model folder as a GGUF
 * model (with its tokenizer), a PEFT adapter as a GGUF LoRA adapter for that base, or the base with the
 * adapter merged. (`retrace adapter plain-alpha` is the route through llama.cpp's own converter.) */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "retrace/gguf_write.h"

const char rt_cmd_export_summary[] = "export a model or LoRA adapter as GGUF for llama.cpp";

static void usage(void) {
    printf("usage: retrace export --gguf OUT.gguf -m|--model DIR [--adapter DIR [--merge]] [options]\n\n"
           "Writes a GGUF file llama.cpp loads (architectures llama, for Llama/Mistral/SmolLM, and qwen2).\n"
           "  --model DIR only           the model, with the tokenizer metadata of DIR's tokenizer.json\n"
           "  --model DIR --adapter A    the adapter as a llama.cpp LoRA adapter for that base (llama-cli\n"
           "                             --lora OUT.gguf); rsLoRA is written with alpha * sqrt(r)\n"
           "  ... --adapter A --merge    the base with the adapter folded in, as a model\n\n"
           "  --type T         f32 (default), f16, bf16 or q8_0 for the matrices (norms stay f32)\n"
           "  --tokenizer DIR  take tokenizer.json / tokenizer_config.json from DIR, or the tokenizer.* keys\n"
           "                   of a .gguf file (default: --model)\n"
           "  --pre NAME       tokenizer.ggml.pre (default: guessed from the pre-tokenizer: llama-bpe,\n"
           "                   qwen2, smollm, gpt-2 or default)\n"
           "  --name TEXT      general.name (default: the folder's name)\n");
}

typedef struct {
    const char *out, *model, *adapter, *tokenizer, *pre, *name;
    int merge;
    rt_ggml_type type;
} export_opts;

static int parse_type(void *dst, const char *value) { return rt_gguf_store_parse(value, dst) != RT_OK; }

static int parse(int argc, char **argv, export_opts *o) {
    memset(o, 0, sizeof *o);
    o->type = RT_GGML_F32;
    const rt_arg args[] = {RT_ARG_S("--gguf|-o|--output", &o->out), RT_ARG_S("-m|--model", &o->model),
                           RT_ARG_S("--adapter|--lora", &o->adapter), RT_ARG_S("--tokenizer", &o->tokenizer),
                           RT_ARG_S("--pre", &o->pre), RT_ARG_S("--name", &o->name), RT_ARG_CALL("--type", parse_type, &o->type),
                           RT_ARG_B("--merge", &o->merge, 1), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"export", usage, args, 0, 0, 1};
    int rc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc;
    if (!o->out) return rt_cli_usage_error("export", "--gguf OUT.gguf is required");
    if (!o->model) return rt_cli_usage_error("export", "--model DIR is required (the base, for an adapter)");
    if (o->merge && !o->adapter) return rt_cli_usage_error("export", "--merge needs --adapter");
    return 0;
}

/* The last name of a path, without a trailing slash. */
static char *base_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/') b--;
    char *s = rt_malloc(n - b + 1);
    memcpy(s, path + b, n - b);
    s[n - b] = '\0';
    return s;
}

static rt_status run(const export_opts *o, const char **what) {
    rt_model *m = NULL;
    char *tok_json = NULL, *name = base_name(o->adapter && !o->merge ? o->adapter : o->model);
    rt_gguf_export_params p = rt_gguf_export_params_default();
    p.type = o->type, p.pre = o->pre, p.name = o->name ? o->name : name;
    rt_status s = rt_model_load(o->model, &m);
    if (s == RT_OK && o->adapter) s = rt_cli_load_adapter("export", m, o->model, o->adapter);
    if (s == RT_OK && o->merge) s = rt_lora_merge(m);
    if (s == RT_OK && o->adapter && !o->merge) {
        *what = "LoRA adapter";
        s = rt_gguf_export_lora(m, o->out, &p);
    } else if (s == RT_OK) {
        *what = o->merge ? "merged model" : "model";
        const char *tdir = o->tokenizer ? o->tokenizer : o->model;
        tok_json = rt_path_join(tdir, "tokenizer.json");
        if (rt_path_exists(tok_json) || (!rt_is_dir(tdir) && rt_path_exists(tdir))) p.tokenizer = tdir; /* a .gguf */
        else if (o->tokenizer) s = rt_fail(RT_ERR_IO, "%s: no tokenizer.json", tok_json);
        else
            fprintf(stderr, "retrace export: warning: %s has no tokenizer.json: the GGUF carries no tokenizer, and "
                            "llama.cpp needs one to load it (see --tokenizer)\n", tdir);
        if (s == RT_OK) s = rt_gguf_export_model(m, o->out, &p);
    }
    rt_model_free(m);
    free(tok_json), free(name);
    return s;
}

int rt_cmd_export(int argc, char **argv) {
    export_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return RT_ARGS_EXIT(rc);
    const char *what = "model";
    if (run(&o, &what) != RT_OK) return rt_cli_fail("export");
    printf("wrote %s (%s, %s)\n", o.out, what, rt_ggml_type_name(o.type));
    return RT_EXIT_OK;
}
