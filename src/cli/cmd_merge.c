/* cmd_merge.c: `retrace merge` folds a PEFT LoRA adapter into its base model and saves the result in
 * the Hugging Face layout (loadable by transformers, and by llama.cpp's converter as a plain model). */
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_merge_summary[] = "merge a LoRA adapter into its base model and save the merged model";

static void usage(void) {
    printf("usage: retrace merge -m DIR --adapter DIR -o OUT\n\n"
           "Computes W + scale * B A for every adapted projection (scale alpha/r, or alpha/sqrt(r) for\n"
           "rsLoRA) and writes OUT/config.json and OUT/model.safetensors (float32), with the base's tokenizer\n"
           "and generation_config.json files copied beside them.\n\n"
           "  -m, --model DIR          the base model folder\n"
           "  --adapter, --lora DIR    the PEFT adapter trained on it\n"
           "  -o, --output OUT         the merged model folder\n");
}

int rt_cmd_merge(int argc, char **argv) {
    const char *model_dir = NULL, *adapter = NULL, *out = NULL;
    const rt_arg args[] = {RT_ARG_S("-m|--model", &model_dir), RT_ARG_S("--adapter|--lora", &adapter),
                           RT_ARG_S("-o|--output", &out), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"merge", usage, args, 0, 0, 1};
    int rc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return RT_ARGS_EXIT(rc);
    if (!model_dir || !adapter || !out) return rt_cli_usage_error("merge", "--model, --adapter and -o are required");
    rt_model *m;
    if (rt_model_load(model_dir, &m) != RT_OK) return rt_cli_fail("merge");
    rt_status s = rt_cli_load_adapter("merge", m, model_dir, adapter);
    if (s == RT_OK) s = rt_lora_merge(m);
    if (s == RT_OK) s = rt_model_save(m, out);
    /* The merged folder must stand alone: generate, transformers and llama.cpp's converter read these. */
    if (s == RT_OK) s = rt_copy_files(model_dir, out, rt_cli_model_side_files);
    rt_model_free(m);
    if (s != RT_OK) return rt_cli_fail("merge");
    printf("merged %s into %s: saved %s\n", adapter, model_dir, out);
    return RT_EXIT_OK;
}
