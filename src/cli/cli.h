/* cli.h: what every command file shares. A command lives in cmd_NAME.c and defines
 *   int rt_cmd_NAME(int argc, char **argv);     argv[0] is the command name
 *   const char rt_cmd_NAME_summary[];            one line for `retrace --help`
 * The build generates the command table from the file names (underscores become dashes). */
#ifndef RT_CLI_H
#define RT_CLI_H

#include "retrace.h"

#include "cli/args.h"

/* Exit codes shared by all commands. */
enum { RT_EXIT_OK = 0, RT_EXIT_FAIL = 1, RT_EXIT_USAGE = 2 };

/* Prints "retrace NAME: <message of the last error>" to stderr and returns RT_EXIT_FAIL. */
int rt_cli_fail(const char *cmd);
/* Prints "retrace NAME: <formatted>" to stderr and returns RT_EXIT_USAGE. */
int rt_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when argv[i] is -h or --help. */
int rt_cli_is_help(const char *arg);
/* Parses an integer or float option value; on error prints a usage error naming the option. */
int rt_cli_parse_int(const char *cmd, const char *opt, const char *val, long long *out);
int rt_cli_parse_float(const char *cmd, const char *opt, const char *val, double *out);

/* Loads the PEFT adapter in adapter_dir onto m (loaded from model_dir) after checking that it was
 * trained for that base (rt_lora_check_base); prints a warning on stderr when that cannot be checked. */
rt_status rt_cli_load_adapter(const char *cmd, rt_model *m, const char *model_dir, const char *adapter_dir);

/* Writes the logits of every position of ids (n) as safetensors: input_ids I32 [n], logits F32 [n, V]. */
rt_status rt_cli_dump_logits(rt_model *m, const int32_t *ids, int n, const char *path);

/* The files of a model folder besides its config and weights (tokenizer, generation defaults), NULL-ended:
 * what a command that writes a new model folder from an old one copies across. */
extern const char *const rt_cli_model_side_files[];

#define RT_COMMAND(name)                       \
    int rt_cmd_##name(int argc, char **argv);  \
    extern const char rt_cmd_##name##_summary[];
#include "commands.inc"
#undef RT_COMMAND

#endif
