/* exec_env.c: an external environment: `exec:CMD` runs CMD (through /bin/sh) as a child that speaks
 * JSON lines on its stdin/stdout (protocol in docs/environments.md). Each reply must come within the
 * step time limit; a child that dies, hangs or writes bad JSON is killed and reaped, the episode ends
 * with the reason, and the next reset starts a fresh child.
 *
 * The child's stdin and stdout are one end of a socketpair rather than two pipes, so that writing to a
 * dead child gives EPIPE through send(MSG_NOSIGNAL) instead of a SIGPIPE that would kill the caller.
 * Our end is close-on-exec, so no other child inherits it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "env/env_internal.h"

extern char **environ;

#define EXEC_MAX_LINE (16u << 20)
#define EXEC_BUDGET 50
#define EXIT_GRACE_MS 200
/* A fresh child's first reply may also take this long: interpreters and environments such as
 * ALFWorld load for seconds before they answer, and that is not a hang. */
#define STARTUP_ALLOWANCE_MS 30000

typedef struct {
    char *cmd;
    int timeout_ms;
    pid_t pid;
    int fd;
    int fresh; /* started, no reply yet */
    char *buf; /* bytes read but not yet consumed */
    size_t len, cap;
    /* episode */
    char *task, *task_type, *obs, *expert, *thought;
    json_t *admissible;
    const char **adm;
    size_t n_adm;
    double reward_sum;
    int success;
} ex_world;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void set_str(char **dst, const char *s) {
    free(*dst);
    *dst = s ? rt_strdup(s) : NULL;
}

/* Ends the child: closes our end (a well-behaved child sees EOF and exits), waits a moment, then
 * SIGKILL. Always reaps, so no zombie is left. Returns a description of how it ended. */
static void stop_child(ex_world *w, char *how, size_t cap) {
    if (how) how[0] = '\0';
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    w->len = 0;
    if (w->pid <= 0) return;
    int status = 0;
    pid_t r = 0;
    for (double t0 = now_ms(); (r = waitpid(w->pid, &status, WNOHANG)) == 0 && now_ms() - t0 < EXIT_GRACE_MS;) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (r == 0) {
        kill(-w->pid, SIGKILL);
        while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {}
        if (how) snprintf(how, cap, "killed");
    } else if (how && r > 0) {
        if (WIFEXITED(status)) snprintf(how, cap, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status)) snprintf(how, cap, "died of signal %d", WTERMSIG(status));
    }
    kill(-w->pid, SIGKILL); /* whatever the shell left running in the group */
    w->pid = -1;
}

/* Kills the child after a protocol failure and fails with the reason. */
static rt_status child_failed(ex_world *w, const char *what) {
    char how[64];
    if (w->pid > 0 && w->fd >= 0) kill(-w->pid, SIGKILL);
    stop_child(w, how, sizeof how);
    return rt_fail(RT_ERR_IO, "exec: %s%s%s", what, how[0] ? "; child " : "", how);
}

static rt_status spawn_child(ex_world *w) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return rt_fail(RT_ERR_IO, "exec: socketpair: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    /* dup2 clears close-on-exec on the child's copies; the originals close at exec. */
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
    /* Its own process group, so that killing it also kills what the shell started (python3 ...),
     * which would otherwise live on holding our socket and the caller's stderr. */
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    char *argv[] = {"/bin/sh", "-c", w->cmd, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return rt_fail(RT_ERR_IO, "exec: cannot start '%s': %s", w->cmd, strerror(rc));
    }
    w->pid = pid;
    w->fd = sv[0];
    w->len = 0;
    w->fresh = 1;
    return RT_OK;
}

static rt_status send_line(ex_world *w, const json_t *req) {
    char *s = json_dumps(req, JSON_COMPACT);
    size_t n = strlen(s), off = 0;
    s[n] = '\n'; /* json_dumps leaves room for the NUL, which we replace; the length grows by one */
    rt_status st = RT_OK;
    while (off < n + 1) {
        ssize_t k = send(w->fd, s + off, n + 1 - off, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            st = child_failed(w, "the child closed the connection (a request could not be written)");
            break;
        }
        off += (size_t)k;
    }
    free(s);
    return st;
}

/* Reads one line within the time limit and parses it as a JSON object. */
static rt_status read_reply(ex_world *w, json_t **out) {
    *out = NULL;
    double deadline = now_ms() + w->timeout_ms + (w->fresh ? STARTUP_ALLOWANCE_MS : 0);
    char *nl;
    while (!(nl = w->len ? memchr(w->buf, '\n', w->len) : NULL)) {
        if (w->len >= EXEC_MAX_LINE) return child_failed(w, "reply longer than 16 MiB");
        int left = (int)(deadline - now_ms());
        if (left <= 0) {
            char msg[96];
            snprintf(msg, sizeof msg, "no reply within %d ms", w->timeout_ms);
            return child_failed(w, msg);
        }
        struct pollfd p = {w->fd, POLLIN, 0};
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) continue;
        if (w->cap - w->len < 65536) {
            w->cap = w->cap ? w->cap * 2 : 131072;
            w->buf = rt_realloc(w->buf, w->cap);
        }
        ssize_t k = read(w->fd, w->buf + w->len, w->cap - w->len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return child_failed(w, "the child closed the connection");
        w->len += (size_t)k;
    }
    w->fresh = 0;
    size_t line = (size_t)(nl - w->buf);
    json_error_t je;
    json_t *v = json_loadb(w->buf, line, 0, &je);
    memmove(w->buf, nl + 1, w->len - line - 1);
    w->len -= line + 1;
    if (!v || !json_is_object(v)) {
        char msg[256];
        snprintf(msg, sizeof msg, "bad JSON from the child: %s", v ? "not an object" : je.text);
        json_decref(v);
        return child_failed(w, msg);
    }
    *out = v;
    return RT_OK;
}

static rt_status request(ex_world *w, json_t *req, json_t **reply) {
    rt_status s = w->pid > 0 ? RT_OK : spawn_child(w);
    if (s == RT_OK) s = send_line(w, req);
    if (s == RT_OK) s = read_reply(w, reply);
    json_decref(req);
    return s;
}

static rt_status need_string(ex_world *w, json_t *reply, const char *key, const char **out) {
    const json_t *v = json_object_get(reply, key);
    if (!json_is_string(v)) {
        char msg[96];
        snprintf(msg, sizeof msg, "the reply lacks \"%s\" (a string)", key);
        json_decref(reply);
        return child_failed(w, msg);
    }
    *out = json_string_value(v);
    return RT_OK;
}

/* Optional fields any reply may carry: new admissible actions, the expert's action and thought. */
static void take_extras(ex_world *w, const json_t *reply) {
    json_t *adm = json_object_get(reply, "admissible");
    if (json_is_array(adm)) {
        json_decref(w->admissible);
        w->admissible = json_array();
        size_t i;
        json_t *a;
        json_array_foreach(adm, i, a) if (json_is_string(a)) json_array_append(w->admissible, a);
        w->n_adm = json_array_size(w->admissible);
        w->adm = rt_realloc(w->adm, (w->n_adm + 1) * sizeof *w->adm);
        for (i = 0; i < w->n_adm; i++) w->adm[i] = json_string_value(json_array_get(w->admissible, i));
    }
    set_str(&w->expert, json_string_value(json_object_get(reply, "expert")));
    set_str(&w->thought, json_string_value(json_object_get(reply, "thought")));
}

static rt_status ex_reset(void *world, uint64_t seed, rt_env_start *out) {
    ex_world *w = world;
    json_t *req = json_object(), *reply;
    json_object_set_new(req, "op", json_string("reset"));
    json_object_set_new(req, "seed", json_integer((json_int_t)seed));
    w->n_adm = 0;
    w->reward_sum = 0;
    w->success = 0;
    set_str(&w->expert, NULL);
    RT_TRY(request(w, req, &reply));
    const char *task = NULL, *obs = NULL;
    RT_TRY(need_string(w, reply, "task", &task));
    RT_TRY(need_string(w, reply, "observation", &obs));
    set_str(&w->task, task);
    set_str(&w->obs, obs);
    set_str(&w->task_type, json_is_string(json_object_get(reply, "task_type")) ? json_string_value(json_object_get(reply, "task_type")) : "");
    take_extras(w, reply);
    json_decref(reply);
    out->task = w->task;
    out->task_type = w->task_type;
    out->observation = w->obs;
    return RT_OK;
}

static rt_status ex_step(void *world, const char *action, rt_env_result *out) {
    ex_world *w = world;
    json_t *req = json_object(), *reply;
    json_object_set_new(req, "op", json_string("step"));
    json_object_set_new(req, "action", json_string(action));
    RT_TRY(request(w, req, &reply));
    const char *obs = NULL;
    RT_TRY(need_string(w, reply, "observation", &obs));
    set_str(&w->obs, obs);
    json_t *r = json_object_get(reply, "reward");
    out->reward = json_is_number(r) ? json_number_value(r) : 0.0;
    out->done = json_is_true(json_object_get(reply, "done"));
    out->success = json_is_true(json_object_get(reply, "success"));
    w->reward_sum += out->reward;
    w->success = out->success;
    take_extras(w, reply);
    json_decref(reply);
    out->observation = w->obs;
    return RT_OK;
}

static size_t ex_admissible(void *world, const char *const **out) {
    ex_world *w = world;
    *out = w->adm;
    return w->n_adm;
}

static double ex_score(void *world) {
    ex_world *w = world;
    if (w->success) return 1.0;
    return w->reward_sum < 0 ? 0 : w->reward_sum > 1 ? 1 : w->reward_sum;
}

/* The expert is the child's own: a reply's optional "expert" action. */
static int ex_expert(void *world, rt_env_advice *out) {
    ex_world *w = world;
    if (!w->expert) return -1;
    snprintf(out->action, sizeof out->action, "%s", w->expert);
    snprintf(out->thought, sizeof out->thought, "%s", w->thought ? w->thought : "");
    return 1;
}

static int ex_max_steps(void *world) {
    (void)world;
    return EXEC_BUDGET;
}

static void ex_describe(void *world, json_t *meta, json_t *api_versions) {
    ex_world *w = world;
    (void)api_versions;
    json_object_set_new(meta, "command", json_string(w->cmd));
}

static void ex_destroy(void *world) {
    ex_world *w = world;
    stop_child(w, NULL, 0);
    free(w->cmd), free(w->buf), free(w->task), free(w->task_type), free(w->obs), free(w->expert), free(w->thought);
    json_decref(w->admissible);
    free(w->adm);
    free(w);
}

static const rt_env_vtable EX_VT = {
    .name = "exec",
    .reset = ex_reset,
    .step = ex_step,
    .admissible = ex_admissible,
    .score = ex_score,
    .expert = ex_expert,
    .set_flaw = NULL,
    .default_max_steps = ex_max_steps,
    .describe = ex_describe,
    .docs = NULL,
    .destroy = ex_destroy,
};

rt_status rt_exec_open(const char *cmd, const rt_env_config *cfg, void **world, const rt_env_vtable **vt) {
    if (!cmd || !*cmd) return rt_fail(RT_ERR_ARG, "exec: no command after 'exec:'");
    ex_world *w = rt_calloc(1, sizeof *w);
    w->cmd = rt_strdup(cmd);
    w->timeout_ms = cfg->step_timeout_ms;
    w->pid = -1;
    w->fd = -1;
    *world = w;
    *vt = &EX_VT;
    return RT_OK;
}
