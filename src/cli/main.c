/* main.c: the `retrace` binary: dispatches to one command per cmd_*.c file. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
    const char *name; /* with underscores, as in the file name */
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command COMMANDS[] = {
#define RT_COMMAND(name) {#name, rt_cmd_##name, rt_cmd_##name##_summary},
#include "commands.inc"
#undef RT_COMMAND
};
static const size_t N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0];

/* Command names are typed with dashes (tokenizer-train) and stored with underscores. */
static int name_matches(const char *stored, const char *typed) {
    for (; *stored && *typed; stored++, typed++) {
        char t = *typed == '-' ? '_' : *typed;
        if (*stored != t) return 0;
    }
    return *stored == *typed;
}

static void print_usage(FILE *out) {
    fprintf(out,
            "retrace %s: experience memory and retrieval-augmented LoRA fine-tuning for LLM agents\n\n"
            "usage: retrace COMMAND [options]      (retrace COMMAND --help for its options)\n\ncommands:\n",
            RT_VERSION_STRING);
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char shown[64];
        snprintf(shown, sizeof shown, "%s", COMMANDS[i].name);
        for (char *c = shown; *c; c++)
            if (*c == '_') *c = '-';
        fprintf(out, "  %-16s %s\n", shown, COMMANDS[i].summary);
    }
}

/* RETRACE_SIMD=scalar|avx2|avx512|auto caps the kernels chosen at run time (distance and generation kernels; BLAS
 * and oneDNN have their own switches): to check that the portable binary gives the same results on a CPU
 * without those units. */
static int apply_simd_env(void) {
    const char *v = getenv("RETRACE_SIMD");
    if (!v || !*v || strcmp(v, "auto") == 0) return 0;
    int level = !strcmp(v, "scalar") ? 0 : !strcmp(v, "avx2") ? 1 : !strcmp(v, "avx512") ? 2 : -1;
    if (level < 0) {
        fprintf(stderr, "retrace: RETRACE_SIMD must be scalar, avx2, avx512 or auto (got '%s')\n", v);
        return -1;
    }
    rt_distance_limit(level);
    rt_simd_limit(level);
    return 0;
}

int main(int argc, char **argv) {
    if (apply_simd_env() != 0) return RT_EXIT_USAGE;
    if (argc < 2) {
        print_usage(stderr);
        return RT_EXIT_USAGE;
    }
    /* `retrace help CMD` is `retrace CMD --help`. */
    if (strcmp(argv[1], "help") == 0 && argc > 2) {
        static char help_opt[] = "--help";
        static char *help_argv[4];
        help_argv[0] = argv[0], help_argv[1] = argv[2], help_argv[2] = help_opt, help_argv[3] = NULL;
        argc = 3, argv = help_argv;
    }
    if (rt_cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return RT_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) argv[1] = "version";
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (name_matches(COMMANDS[i].name, argv[1])) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "retrace: unknown command '%s' (retrace --help lists them)\n", argv[1]);
    return RT_EXIT_USAGE;
}

const char *const rt_cli_model_side_files[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "tokenizer.model",
    "vocab.json", "merges.txt", "chat_template.jinja", "generation_config.json", NULL};

int rt_cli_fail(const char *cmd) {
    fprintf(stderr, "retrace %s: %s\n", cmd, rt_errmsg());
    return RT_EXIT_FAIL;
}

int rt_cli_usage_error(const char *cmd, const char *fmt, ...) {
    fprintf(stderr, "retrace %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return RT_EXIT_USAGE;
}

int rt_cli_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

int rt_cli_parse_int(const char *cmd, const char *opt, const char *val, long long *out) {
    char *end;
    if (!val) return rt_cli_usage_error(cmd, "%s needs a value", opt);
    *out = strtoll(val, &end, 10);
    if (*val == '\0' || *end != '\0') return rt_cli_usage_error(cmd, "%s: '%s' is not an integer", opt, val);
    return RT_EXIT_OK;
}

int rt_cli_parse_float(const char *cmd, const char *opt, const char *val, double *out) {
    char *end;
    if (!val) return rt_cli_usage_error(cmd, "%s needs a value", opt);
    *out = strtod(val, &end);
    if (*val == '\0' || *end != '\0') return rt_cli_usage_error(cmd, "%s: '%s' is not a number", opt, val);
    return RT_EXIT_OK;
}

rt_status rt_cli_load_adapter(const char *cmd, rt_model *m, const char *model_dir, const char *adapter_dir) {
    int unverified;
    RT_TRY(rt_lora_check_base(adapter_dir, model_dir, &m->cfg, &unverified));
    if (unverified)
        fprintf(stderr, "retrace %s: warning: cannot check that %s was trained for %s (its base_model_name_or_path is "
                        "not a folder here)\n", cmd, adapter_dir, model_dir);
    return rt_lora_load_peft(m, adapter_dir);
}
