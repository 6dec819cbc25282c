/* cmd_convert.c: `retrace convert MODEL.gguf -o DIR` writes the Hugging Face layout of a GGUF model
 * (config.json, model.safetensors in float32, tokenizer.json, tokenizer_config.json with the chat
 * template, generation_config.json), which transformers loads. Every file is written atomically. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "retrace/gguf.h"

const char rt_cmd_convert_summary[] = "write a .gguf model as a Hugging Face folder";

static rt_status write_text(const char *dir, const char *name, const char *text) {
    char *path = rt_path_join(dir, name);
    rt_status s = rt_file_write_atomic(path, text, strlen(text));
    free(path);
    return s;
}

static rt_status write_generation_config(const char *dir, const rt_model_config *c) {
    json_t *root = json_object();
    json_object_set_new(root, "bos_token_id", c->bos_token_id >= 0 ? json_integer(c->bos_token_id) : json_null());
    json_object_set_new(root, "eos_token_id", c->eos_token_id >= 0 ? json_integer(c->eos_token_id) : json_null());
    json_object_set_new(root, "_from_model_config", json_true());
    char *path = rt_path_join(dir, "generation_config.json");
    rt_status s = rt_json_save(path, root);
    free(path);
    json_decref(root);
    return s;
}

/* A file without tokenizer.ggml.tokens (weights only) converts without tokenizer files. */
static int has_vocabulary(const char *gguf) {
    rt_gguf *g;
    if (rt_gguf_open(gguf, &g) != RT_OK) return 1; /* the real error comes from the load */
    int yes = rt_gguf_find(g, "tokenizer.ggml.tokens") != NULL;
    rt_gguf_close(g);
    return yes;
}

static rt_status convert(const char *gguf, const char *dir) {
    char *tok_json = NULL, *cfg_json = NULL;
    int vocab = has_vocabulary(gguf);
    if (vocab) RT_TRY(rt_tokenizer_gguf_json(gguf, &tok_json, &cfg_json));
    rt_model *m = NULL;
    rt_status s = rt_model_load(gguf, &m);
    if (s == RT_OK) s = rt_model_save(m, dir);
    if (s == RT_OK && vocab) s = write_text(dir, "tokenizer.json", tok_json);
    if (s == RT_OK && vocab) s = write_text(dir, "tokenizer_config.json", cfg_json);
    if (s == RT_OK) s = write_generation_config(dir, &m->cfg);
    if (s == RT_OK && !vocab) fprintf(stderr, "convert: %s holds no vocabulary; wrote no tokenizer files\n", gguf);
    rt_model_free(m);
    free(tok_json);
    free(cfg_json);
    return s;
}

static void usage(void) {
    printf("usage: retrace convert MODEL.gguf -o DIR\n\n"
           "Reads a GGUF model (llama or qwen2 architecture; F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K,\n"
           "Q5_K or Q6_K tensors) and writes DIR/config.json, model.safetensors (float32), tokenizer.json,\n"
           "tokenizer_config.json (with the chat template) and generation_config.json, which transformers\n"
           "and every retrace command load. See docs/gguf.md. The model is MODEL.gguf or -m/--model.\n");
}

int rt_cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *model = NULL;
    const rt_arg args[] = {RT_ARG_S("-o|--output", &out), RT_ARG_S("-m|--model", &model), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"convert", usage, args, 0, 1, 0};
    int rc = rt_args_parse(&spec, argc, argv, &in, NULL);
    if (rc) return RT_ARGS_EXIT(rc);
    if (in && model) return rt_cli_usage_error("convert", "give the model once, not '%s' and -m %s", in, model);
    if (!in) in = model;
    if (!in) return rt_cli_usage_error("convert", "missing MODEL.gguf (see --help)");
    if (!out) return rt_cli_usage_error("convert", "missing -o DIR");
    if (!rt_gguf_path_is_gguf(in)) return rt_cli_usage_error("convert", "'%s' is not a GGUF file", in);
    if (convert(in, out) != RT_OK) return rt_cli_fail("convert");
    rt_info("convert: wrote %s", out);
    return RT_EXIT_OK;
}
