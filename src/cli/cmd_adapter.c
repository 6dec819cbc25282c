/* cmd_adapter.c: `retrace adapter plain-alpha IN OUT` rewrites an rsLoRA adapter as an equivalent plain
 * LoRA adapter (use_rslora false, lora_alpha' = alpha * sqrt(r), so alpha'/r = alpha/sqrt(r)). Tools
 * that scale by alpha/r and ignore use_rslora, such as llama.cpp's convert_lora_to_gguf.py, then apply
 * the same scale PEFT does. The weights are copied unchanged. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_adapter_summary[] = "adapter utilities: plain-alpha (rsLoRA to an equivalent alpha/r adapter)";

static rt_status plain_alpha(const char *in, const char *out) {
    char *cfg_in = rt_path_join(in, "adapter_config.json"), *st_in = rt_path_join(in, "adapter_model.safetensors");
    char *cfg_out = rt_path_join(out, "adapter_config.json"), *st_out = rt_path_join(out, "adapter_model.safetensors");
    json_t *root = NULL;
    char *weights = NULL;
    size_t len = 0;
    int64_t r = 0;
    double alpha = 0;
    rt_status s = rt_json_load(cfg_in, &root);
    if (s == RT_OK) s = rt_json_get_int(root, "r", cfg_in, &r);
    if (s == RT_OK) s = rt_json_get_number(root, "lora_alpha", cfg_in, &alpha);
    if (s == RT_OK && r <= 0) s = rt_fail(RT_ERR_FORMAT, "%s: key 'r' must be positive", cfg_in);
    if (s == RT_OK && json_is_true(json_object_get(root, "use_rslora"))) {
        json_object_set_new(root, "lora_alpha", json_real(alpha * sqrt((double)r)));
        json_object_set_new(root, "use_rslora", json_false());
    }
    if (s == RT_OK) s = rt_file_read(st_in, &weights, &len);
    if (s == RT_OK) s = rt_mkdir_p(out);
    if (s == RT_OK) s = rt_file_write_atomic(st_out, weights, len);
    if (s == RT_OK) s = rt_json_save(cfg_out, root);
    json_decref(root);
    free(weights), free(cfg_in), free(st_in), free(cfg_out), free(st_out);
    return s;
}

static void usage(void) {
    printf("usage: retrace adapter plain-alpha IN_DIR OUT_DIR\n\n"
           "plain-alpha: writes OUT_DIR as the same adapter with use_rslora false and lora_alpha multiplied\n"
           "by sqrt(r), which gives the same scale alpha/sqrt(r) under the plain alpha/r rule (for llama.cpp's\n"
           "convert_lora_to_gguf.py, which ignores use_rslora). A plain adapter is copied unchanged.\n");
}

int rt_cmd_adapter(int argc, char **argv) {
    const rt_arg none[] = {RT_ARG_TABLE_END};
    /* The group's own options (--help) come before the subcommand; the subcommand's after it. */
    if (argc < 2 || argv[1][0] == '-') {
        const rt_args_spec group = {"adapter", usage, none, 0, 0, 0};
        int rc = rt_args_parse(&group, argc, argv, NULL, NULL);
        if (rc) return RT_ARGS_EXIT(rc);
        return rt_cli_usage_error("adapter", "missing the subcommand: plain-alpha (retrace adapter --help)");
    }
    if (strcmp(argv[1], "plain-alpha") != 0)
        return rt_cli_usage_error("adapter", "unknown subcommand '%s' (retrace adapter --help)", argv[1]);
    const rt_args_spec spec = {"adapter plain-alpha", usage, none, 2, 2, 0};
    const char *pos[2];
    int rc = rt_args_parse(&spec, argc - 1, argv + 1, pos, NULL);
    if (rc) return RT_ARGS_EXIT(rc);
    if (plain_alpha(pos[0], pos[1]) != RT_OK) return rt_cli_fail("adapter");
    printf("wrote %s\n", pos[1]);
    return RT_EXIT_OK;
}
