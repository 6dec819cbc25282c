/* log.c: leveled logging to stderr and a progress line that is drawn only on a terminal. */
#include "retrace/base.h"

#include <time.h>
#include <unistd.h>

/* Redraw at most this often so progress never costs measurable time. */
#define RT_PROGRESS_REDRAW_S 0.2
/* Where stderr is not a terminal, one progress line this often (RETRACE_HEARTBEAT_S overrides). */
#define RT_PROGRESS_HEARTBEAT_S 60.0

#include <stdlib.h>

static rt_log_level g_level = RT_LOG_INFO;

void rt_log_set_level(rt_log_level level) { g_level = level; }
rt_log_level rt_log_get_level(void) { return g_level; }

void rt_log(rt_log_level level, const char *fmt, ...) {
    if (level < g_level) return;
    static const char *const prefix[] = {"debug: ", "", "warning: ", "error: "};
    fputs(prefix[level < RT_LOG_QUIET ? level : RT_LOG_ERROR], stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double rt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double rt_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void rt_progress_begin(rt_progress *p, const char *label, int64_t total) {
    p->label = label;
    p->total = total;
    p->done = 0;
    p->t_start = rt_now();
    p->t_last_draw = 0.0;
    p->enabled = isatty(STDERR_FILENO) && g_level <= RT_LOG_INFO;
    p->heartbeat_s = -1.0;
    if (!p->enabled && g_level <= RT_LOG_INFO) {
        const char *env = getenv("RETRACE_HEARTBEAT_S");
        char *end;
        double s = env ? strtod(env, &end) : RT_PROGRESS_HEARTBEAT_S;
        p->heartbeat_s = env && (end == env || s < 0) ? RT_PROGRESS_HEARTBEAT_S : s;
        p->t_last_draw = p->t_start;
    }
}

static void format_duration(char *buf, size_t n, double s) {
    int64_t t = (int64_t)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%lldh%02lldm", (long long)(t / 3600), (long long)(t / 60 % 60));
    else snprintf(buf, n, "%lldm%02llds", (long long)(t / 60), (long long)(t % 60));
}

/* Draws the line: in place on a terminal (final ends it), or as one whole line for a log (newline). */
static void draw(rt_progress *p, const char *extra, int final) {
    double elapsed = rt_now() - p->t_start;
    char eta[32] = "";
    if (p->total > 0 && p->done > 0 && !final) {
        char d[24];
        format_duration(d, sizeof d, elapsed / (double)p->done * (double)(p->total - p->done));
        snprintf(eta, sizeof eta, "  eta %s", d);
    }
    char el[24];
    format_duration(el, sizeof el, elapsed);
    const char *start = p->enabled ? "\r\033[K" : "";
    if (p->total > 0)
        fprintf(stderr, "%s%s %lld/%lld (%3.0f%%)  %s%s%s%s", start, p->label, (long long)p->done,
                (long long)p->total, 100.0 * (double)p->done / (double)p->total, el, eta,
                extra ? "  " : "", extra ? extra : "");
    else
        fprintf(stderr, "%s%s %lld  %s%s%s", start, p->label, (long long)p->done, el, extra ? "  " : "",
                extra ? extra : "");
    if (final || !p->enabled) fputc('\n', stderr);
    fflush(stderr);
}

void rt_progress_update(rt_progress *p, int64_t done, const char *extra) {
    p->done = done;
    if (!p->enabled) {
        double now = rt_now();
        if (p->heartbeat_s < 0.0 || now - p->t_last_draw < p->heartbeat_s) return;
        p->t_last_draw = now;
        draw(p, extra, 0);
        return;
    }
    double t = rt_now();
    if (t - p->t_last_draw < RT_PROGRESS_REDRAW_S && done != p->total) return;
    p->t_last_draw = t;
    draw(p, extra, 0);
}

void rt_progress_end(rt_progress *p) {
    if (p->enabled) draw(p, NULL, 1);
}
