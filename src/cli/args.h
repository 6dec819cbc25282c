/* args.h: the one option parser of every command. A command lists its options in a table (each with its
 * spellings: retrace's, llama.cpp's and Hugging Face's), and rt_args_parse handles the rest the same way
 * everywhere: `--opt value`, `--opt=value`, `-k value`, `-k3`, bundled short flags (`-qv`), `--` to end
 * options, `-` as a value or argument (stdin/stdout), range checks, errors naming the option, and the
 * options every command shares: -h/--help, -q/--quiet, -v/--verbose and, on commands that compute,
 * -t/--threads N. */
#ifndef RT_CLI_ARGS_H
#define RT_CLI_ARGS_H

#include <stdio.h>

typedef enum {
    RT_ARG_END = 0, /* ends a table */
    RT_ARG_FLAG,    /* no value: stores `flag` in *(int *)dst */
    RT_ARG_STR,     /* *(const char **)dst = value */
    RT_ARG_INT,     /* *(long long *)dst, checked against [min, max] when min < max */
    RT_ARG_FLOAT,   /* *(double *)dst, checked likewise */
    RT_ARG_INT32,   /* *(int *)dst, checked likewise (and against int's range) */
    RT_ARG_FLOAT32, /* *(float *)dst, checked likewise */
    RT_ARG_FN,      /* fn(dst, value): for repeatable or parsed options; an error is a usage error */
} rt_arg_kind;

typedef struct {
    const char *names; /* every spelling, separated by '|': "-m|--model" */
    rt_arg_kind kind;
    void *dst;
    double min, max;
    int flag;
    int (*fn)(void *dst, const char *value); /* returns 0, or non-zero after rt_fail() with the reason */
} rt_arg;

#define RT_ARG_S(names, p) {names, RT_ARG_STR, p, 0, 0, 0, NULL}
#define RT_ARG_I(names, p, lo, hi) {names, RT_ARG_INT, p, lo, hi, 0, NULL}
#define RT_ARG_F(names, p, lo, hi) {names, RT_ARG_FLOAT, p, lo, hi, 0, NULL}
#define RT_ARG_I32(names, p, lo, hi) {names, RT_ARG_INT32, p, lo, hi, 0, NULL}
#define RT_ARG_F32(names, p, lo, hi) {names, RT_ARG_FLOAT32, p, lo, hi, 0, NULL}
#define RT_ARG_B(names, p, value) {names, RT_ARG_FLAG, p, 0, 0, value, NULL}
#define RT_ARG_CALL(names, fn, ctx) {names, RT_ARG_FN, ctx, 0, 0, 0, fn}
#define RT_ARG_TABLE_END {NULL, RT_ARG_END, NULL, 0, 0, 0, NULL}

typedef struct {
    const char *cmd;        /* as in messages: "generate", "adapter plain-alpha" */
    void (*usage)(void);    /* prints the command's usage and options to stdout */
    const rt_arg *args;     /* ends with RT_ARG_TABLE_END */
    int min_pos, max_pos;   /* positional arguments allowed */
    int computes;           /* accepts -t/--threads N */
} rt_args_spec;

/* Returned by rt_args_parse after printing --help. */
#define RT_ARGS_HELP (-1)

/* Parses argv[1..argc) by spec; positional arguments go to pos (max_pos of them) and their count to
 * *n_pos (either may be NULL when max_pos is 0). Returns 0, RT_EXIT_USAGE after a one-line error on
 * stderr, or RT_ARGS_HELP after the help on stdout. Sets the log level and thread count it was given. */
int rt_args_parse(const rt_args_spec *spec, int argc, char **argv, const char **pos, int *n_pos);

/* A command's exit code from rt_args_parse's result: RT_ARGS_HELP is success. */
#define RT_ARGS_EXIT(rc) ((rc) == RT_ARGS_HELP ? 0 : (rc))

#endif
