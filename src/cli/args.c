/* args.c: rt_args_parse (args.h), the option parser every command uses, so options, errors and --help
 * behave the same way across the binary. GNU forms are accepted; long options are not abbreviated (an
 * abbreviation that is unique today becomes ambiguous when an option is added). */
#include <limits.h>
#include <string.h>

#include "cli/cli.h"

/* A range check is skipped for limits at or beyond this (no upper bound in practice). */
#define RT_ARG_UNBOUNDED 1e9

typedef struct {
    int quiet, verbose, help;
    long long threads;
} common_opts;

/* The option of `table` one of whose spellings is name[0..n), or NULL. */
static const rt_arg *find_in(const rt_arg *table, const char *name, size_t n) {
    for (const rt_arg *o = table; o && o->kind != RT_ARG_END; o++) {
        for (const char *p = o->names; *p;) {
            size_t len = strcspn(p, "|");
            if (len == n && strncmp(p, name, n) == 0) return o;
            p += len + (p[len] == '|');
        }
    }
    return NULL;
}

static int check_range(const char *cmd, const char *name, const rt_arg *o, double x) {
    if (o->min >= o->max || (x >= o->min && x <= o->max)) return 0;
    if (o->max >= RT_ARG_UNBOUNDED) return rt_cli_usage_error(cmd, "%s must be at least %g (got %g)", name, o->min, x);
    return rt_cli_usage_error(cmd, "%s must be between %g and %g (got %g)", name, o->min, o->max, x);
}

/* Stores value into the option's destination; name is the spelling the user typed. */
static int apply(const char *cmd, const char *name, const rt_arg *o, const char *value) {
    switch (o->kind) {
    case RT_ARG_STR:
        *(const char **)o->dst = value;
        return 0;
    case RT_ARG_INT: {
        long long *x = o->dst;
        if (rt_cli_parse_int(cmd, name, value, x)) return RT_EXIT_USAGE;
        return check_range(cmd, name, o, (double)*x);
    }
    case RT_ARG_FLOAT: {
        double *x = o->dst;
        if (rt_cli_parse_float(cmd, name, value, x)) return RT_EXIT_USAGE;
        return check_range(cmd, name, o, *x);
    }
    case RT_ARG_INT32: {
        long long x;
        if (rt_cli_parse_int(cmd, name, value, &x)) return RT_EXIT_USAGE;
        if (x < INT_MIN || x > INT_MAX) return rt_cli_usage_error(cmd, "%s: %lld is out of range", name, x);
        *(int *)o->dst = (int)x;
        return check_range(cmd, name, o, (double)x);
    }
    case RT_ARG_FLOAT32: {
        double x;
        if (rt_cli_parse_float(cmd, name, value, &x)) return RT_EXIT_USAGE;
        *(float *)o->dst = (float)x;
        return check_range(cmd, name, o, x);
    }
    case RT_ARG_FN:
        if (o->fn(o->dst, value) != 0) return rt_cli_usage_error(cmd, "%s: %s", name, rt_errmsg());
        return 0;
    default:
        *(int *)o->dst = o->flag;
        return 0;
    }
}

static void print_help(const rt_args_spec *spec) {
    spec->usage();
    printf("\ncommon options: -h, --help; -q, --quiet (warnings and errors only); -v, --verbose (debug output)\n");
    if (spec->computes) printf("                -t, --threads N (CPU threads; default: all cores)\n");
}

/* One option word (argv[*i]), long or a run of short ones; may consume the next word as its value. */
static int parse_option(const rt_args_spec *spec, const rt_arg *common, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    char name[64];
    if (a[1] == '-') {
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        const rt_arg *o = find_in(spec->args, a, n);
        if (!o) o = find_in(common, a, n);
        snprintf(name, sizeof name, "%.*s", (int)n, a);
        if (!o) return rt_cli_usage_error(spec->cmd, "unknown option '%s' (retrace %s --help)", name, spec->cmd);
        if (o->kind == RT_ARG_FLAG) {
            if (eq) return rt_cli_usage_error(spec->cmd, "%s takes no value", name);
            return apply(spec->cmd, name, o, NULL);
        }
        const char *value = eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
        if (!value) return rt_cli_usage_error(spec->cmd, "%s needs a value (retrace %s --help)", name, spec->cmd);
        return apply(spec->cmd, name, o, value);
    }
    for (int j = 1; a[j]; j++) { /* -q, -qv, -k 3, -k3 */
        char shortname[3] = {'-', a[j], '\0'};
        const rt_arg *o = find_in(spec->args, shortname, 2);
        if (!o) o = find_in(common, shortname, 2);
        if (!o) return rt_cli_usage_error(spec->cmd, "unknown option '%s' (retrace %s --help)", shortname, spec->cmd);
        if (o->kind == RT_ARG_FLAG) {
            apply(spec->cmd, shortname, o, NULL);
            continue;
        }
        const char *value = a[j + 1] ? a + j + 1 : *i + 1 < argc ? argv[++*i] : NULL;
        if (!value) return rt_cli_usage_error(spec->cmd, "%s needs a value (retrace %s --help)", shortname, spec->cmd);
        return apply(spec->cmd, shortname, o, value);
    }
    return 0;
}

int rt_args_parse(const rt_args_spec *spec, int argc, char **argv, const char **pos, int *n_pos) {
    common_opts c = {0};
    const rt_arg common[] = {RT_ARG_B("-h|--help", &c.help, 1), RT_ARG_B("-q|--quiet", &c.quiet, 1),
                             RT_ARG_B("-v|--verbose", &c.verbose, 1),
                             spec->computes ? (rt_arg)RT_ARG_I("-t|--threads", &c.threads, 1, 4096) : (rt_arg)RT_ARG_TABLE_END,
                             RT_ARG_TABLE_END};
    int n = 0, only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_positional && strcmp(a, "--") == 0) {
            only_positional = 1;
        } else if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (n == spec->max_pos)
                return rt_cli_usage_error(spec->cmd, "unexpected argument '%s' (retrace %s --help)", a, spec->cmd);
            pos[n++] = a;
        } else {
            int rc = parse_option(spec, common, argc, argv, &i);
            if (rc) return rc;
        }
        if (c.help) return print_help(spec), RT_ARGS_HELP;
    }
    if (n_pos) *n_pos = n;
    if (n < spec->min_pos)
        return rt_cli_usage_error(spec->cmd, "expects %d argument%s, got %d (retrace %s --help)", spec->min_pos,
                                  spec->min_pos == 1 ? "" : "s", n, spec->cmd);
    if (c.quiet && c.verbose) return rt_cli_usage_error(spec->cmd, "--quiet and --verbose contradict each other");
    if (c.quiet) rt_log_set_level(RT_LOG_WARN);
    if (c.verbose) rt_log_set_level(RT_LOG_DEBUG);
    if (c.threads > 0) rt_set_threads((int)c.threads);
    return 0;
}
