/* retrain.c: the online loop (`--retrain-every N`). Once N new successful episodes have been committed,
 * a background thread exports the memory, splits its successful episodes into training and
 * validation by a hash of the id (so an episode stays on its side from round to round), and runs this
 * same binary as the CLI would: `retrace dataset` for each side, then `retrace train --val`. It then
 * measures the validation loss of the adapter in use and of the new one on the same examples, each in a
 * fresh copy of the model, and swaps the new copy in (a pointer, under the model lock) only if it is
 * better by the required margin. Requests never see a half-loaded adapter: the copy is whole before the
 * swap, and a completion names the adapter it was generated with. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "retrace/sft.h"
#include "serve/serve_internal.h"

extern char **environ;

#define MAX_ARGS 64

static uint64_t id_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

char *rt_server_adapter(rt_server *s) {
    pthread_mutex_lock(&s->name_lock);
    char *a = s->adapter_name ? rt_strdup(s->adapter_name) : NULL;
    pthread_mutex_unlock(&s->name_lock);
    return a;
}

void rt_retrain_note(rt_server *s, int successes) {
    if (s->p.retrain_every <= 0 || successes <= 0) return;
    pthread_mutex_lock(&s->rt.lock);
    s->rt.pending += successes;
    if (s->rt.pending >= s->p.retrain_every) pthread_cond_signal(&s->rt.cv);
    pthread_mutex_unlock(&s->rt.lock);
}

/* Runs `exe args...` with its output in log; waits for it. The child gets a clean signal mask (the
 * server blocks SIGTERM and SIGINT for sigwait) so that a stop can end it. */
static rt_status run_child(rt_server *s, char **args, const char *log) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
    posix_spawnattr_init(&at);
    sigset_t none, dfl;
    sigemptyset(&none), sigemptyset(&dfl), sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    pthread_mutex_lock(&s->rt.lock);
    int err = s->rt.stop ? ECANCELED : posix_spawn(&pid, s->rt.exe, &fa, &at, args, environ);
    if (!err) s->rt.child = pid;
    pthread_mutex_unlock(&s->rt.lock);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (err) return rt_fail(RT_ERR_IO, "retrain: cannot start %s %s: %s", s->rt.exe, args[1], strerror(err));
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    pthread_mutex_lock(&s->rt.lock);
    s->rt.child = 0;
    pthread_mutex_unlock(&s->rt.lock);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return rt_fail(RT_ERR_STATE, "retrain: `retrace %s` failed; see %s", args[1], log);
    return RT_OK;
}

/* Appends the words of `extra` (split on spaces; no quoting) to args at *n. */
static void add_words(char **args, int *n, char *extra) {
    for (char *w = extra ? strtok(extra, " ") : NULL; w && *n < MAX_ARGS - 1; w = strtok(NULL, " ")) args[(*n)++] = w;
    args[*n] = NULL;
}

static rt_status dataset(rt_server *s, const char *dir, const char *from, const char *to) {
    char *extra = s->p.retrain_dataset_args ? rt_strdup(s->p.retrain_dataset_args) : NULL;
    char *log = rt_path_join(dir, strstr(to, "val") ? "dataset_val.log" : "dataset_train.log");
    char *args[MAX_ARGS] = {"retrace", "dataset", s->rt.memory_dir, "--from", (char *)from, "--tokenizer", s->rt.tokenizer, "-o", (char *)to};
    int n = 9;
    add_words(args, &n, extra);
    rt_status st = run_child(s, args, log);
    free(extra), free(log);
    return st;
}

static rt_status train(rt_server *s, const char *dir, const char *data, const char *val) {
    char *extra = s->p.retrain_train_args ? rt_strdup(s->p.retrain_train_args) : NULL;
    char *log = rt_path_join(dir, "train.log"), *out = rt_path_join(dir, "out");
    char *args[MAX_ARGS] = {"retrace", "train", "--model", s->rt.model, "--tokenizer", s->rt.tokenizer, "--data", (char *)data, "--val",
                            (char *)val, "-o", out};
    int n = 12;
    if (s->p.retrain_chat) args[n++] = "--chat";
    add_words(args, &n, extra);
    rt_status st = run_child(s, args, log);
    free(extra), free(log), free(out);
    return st;
}

/* The memory's successful episodes, split: hash(id) % 5 == 0 is validation (at least one). */
static rt_status export_split(rt_server *s, const char *all, const char *tr, const char *va, int *n_train, int *n_val) {
    FILE *f = fopen(all, "w+");
    if (!f) return rt_fail(RT_ERR_IO, "%s: cannot write", all);
    rt_status st = rt_memory_export(s->mem, f, NULL);
    rt_strbuf t = {0}, v = {0};
    char *line = NULL, *first = NULL;
    size_t cap = 0;
    uint64_t lowest = UINT64_MAX;
    *n_train = *n_val = 0;
    rewind(f);
    while (st == RT_OK && getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *oc = json_string_value(json_object_get(o, "outcome"));
        if (id && oc && !strcmp(oc, "success") && json_object_get(o, "steps")) {
            uint64_t h = id_hash(id);
            if (h % 5 == 0) rt_strbuf_add(&v, line), ++*n_val;
            else if (h < lowest) { /* the fallback validation episode when no id hashes to 0 */
                if (first) rt_strbuf_add(&t, first), ++*n_train;
                free(first), first = rt_strdup(line), lowest = h;
            } else rt_strbuf_add(&t, line), ++*n_train;
        }
        json_decref(o);
    }
    if (first) rt_strbuf_add(*n_val ? &t : &v, first), ++*(*n_val ? n_train : n_val);
    fclose(f), free(line), free(first);
    if (st == RT_OK && (*n_train == 0 || *n_val == 0)) st = rt_fail(RT_ERR_STATE, "retrain: %d successful episodes: too few to split", *n_train + *n_val);
    if (st == RT_OK) st = rt_file_write_atomic(tr, t.buf, t.len);
    if (st == RT_OK) st = rt_file_write_atomic(va, v.buf, v.len);
    free(t.buf), free(v.buf);
    return st;
}

/* A fresh model with `adapter` (NULL: the base) and its mean loss on val. */
static rt_status load_and_score(rt_server *s, const char *adapter, const rt_sft_data *val, rt_model **out, float *loss) {
    rt_model *m = NULL;
    rt_status st = rt_model_load(s->rt.model, &m);
    if (st == RT_OK && adapter) st = rt_lora_load_peft(m, adapter);
    if (st == RT_OK) st = rt_sft_eval_loss(val, m, 4, loss);
    if (st != RT_OK) return rt_model_free(m), st;
    *out = m;
    return RT_OK;
}

static void swap_in(rt_server *s, rt_model *m, const char *adapter_dir, int round) {
    char name[32];
    snprintf(name, sizeof name, "retrain-%d", round);
    pthread_mutex_lock(&s->gen_lock);
    rt_model *old = s->model;
    s->model = m;
    pthread_mutex_lock(&s->name_lock);
    free(s->adapter_name), s->adapter_name = rt_strdup(name);
    pthread_mutex_unlock(&s->name_lock);
    pthread_mutex_unlock(&s->gen_lock);
    rt_model_free(old);
    free(s->rt.adapter_dir), s->rt.adapter_dir = rt_strdup(adapter_dir);
}

static rt_status run_round(rt_server *s, int round, const char **verdict) {
    char sub[32];
    snprintf(sub, sizeof sub, "round-%d", round);
    char *dir = rt_path_join(s->rt.dir, sub), *all = rt_path_join(dir, "episodes.jsonl"), *tr = rt_path_join(dir, "train_episodes.jsonl"),
         *va = rt_path_join(dir, "val_episodes.jsonl"), *trs = rt_path_join(dir, "train.sft.jsonl"), *vas = rt_path_join(dir, "val.sft.jsonl"),
         *adapter = rt_path_join(dir, "out/adapter");
    int n_train = 0, n_val = 0;
    rt_sft_data *val = NULL;
    rt_model *cur = NULL, *cand = NULL;
    float cur_loss = NAN, new_loss = NAN;
    rt_sft_params sp = rt_sft_params_default();
    rt_sft_stats sst;
    sp.chat = s->p.retrain_chat;
    rt_status st = rt_mkdir_p(dir);
    if (st == RT_OK) st = export_split(s, all, tr, va, &n_train, &n_val);
    if (st == RT_OK) st = dataset(s, dir, tr, trs);
    if (st == RT_OK) st = dataset(s, dir, va, vas);
    if (st == RT_OK) st = train(s, dir, trs, vas);
    if (st == RT_OK) st = rt_sft_load(vas, s->tok, &sp, &val, &sst);
    if (st == RT_OK) st = load_and_score(s, s->rt.adapter_dir, val, &cur, &cur_loss);
    rt_model_free(cur);
    if (st == RT_OK) st = load_and_score(s, adapter, val, &cand, &new_loss);
    if (st == RT_OK) {
        int better = new_loss < cur_loss - (float)s->p.retrain_min_improvement;
        *verdict = better ? "swapped" : "rejected";
        rt_info("retrace serve: retrain %d: %d training and %d validation episodes; validation loss %.4f (new) vs %.4f (%s): %s", round,
                n_train, n_val, new_loss, cur_loss, s->rt.adapter_dir ? s->rt.adapter_dir : "the base model", *verdict);
        pthread_mutex_lock(&s->rt.lock);
        s->rt.val_loss = better ? new_loss : cur_loss;
        pthread_mutex_unlock(&s->rt.lock);
        if (better) swap_in(s, cand, adapter, round), cand = NULL;
    }
    rt_model_free(cand);
    rt_sft_free(val);
    free(dir), free(all), free(tr), free(va), free(trs), free(vas), free(adapter);
    return st;
}

static void *loop(void *arg) {
    rt_server *s = arg;
    pthread_mutex_lock(&s->rt.lock);
    for (;;) {
        while (!s->rt.stop && s->rt.pending < s->p.retrain_every) pthread_cond_wait(&s->rt.cv, &s->rt.lock);
        if (s->rt.stop) break;
        s->rt.pending = 0, s->rt.running = 1;
        int round = ++s->rt.rounds;
        pthread_mutex_unlock(&s->rt.lock);
        const char *verdict = "failed";
        if (run_round(s, round, &verdict) != RT_OK) rt_warn("retrace serve: retrain %d failed: %s", round, rt_errmsg());
        pthread_mutex_lock(&s->rt.lock);
        s->rt.running = 0;
        if (!strcmp(verdict, "swapped")) s->rt.swaps++;
        else if (!strcmp(verdict, "rejected")) s->rt.rejections++;
        else s->rt.failures++;
    }
    pthread_mutex_unlock(&s->rt.lock);
    rt_tokenizer_thread_cleanup();
    return NULL;
}

rt_status rt_retrain_start(rt_server *s, const rt_serve_params *p) {
    pthread_mutex_init(&s->rt.lock, NULL);
    pthread_cond_init(&s->rt.cv, NULL);
    s->rt.inited = 1, s->rt.val_loss = NAN;
    if (p->retrain_every <= 0) return RT_OK;
    if (!p->model) return rt_fail(RT_ERR_ARG, "serve: --retrain-every needs --model");
    s->rt.memory_dir = rt_strdup(p->memory_dir), s->rt.model = rt_strdup(p->model);
    s->rt.tokenizer = rt_strdup(p->tokenizer ? p->tokenizer : p->model);
    s->rt.exe = rt_strdup(p->retrain_exe ? p->retrain_exe : "/proc/self/exe");
    s->rt.dir = p->retrain_dir ? rt_strdup(p->retrain_dir) : rt_path_join(p->memory_dir, "retrain");
    if (p->adapter) s->rt.adapter_dir = rt_strdup(p->adapter);
    RT_TRY(rt_mkdir_p(s->rt.dir));
    if (pthread_create(&s->rt.thread, NULL, loop, s)) return rt_fail(RT_ERR_IO, "serve: cannot start the retraining thread");
    s->rt.started = 1;
    return RT_OK;
}

void rt_retrain_stop(rt_server *s) {
    if (!s->rt.inited) return;
    pthread_mutex_lock(&s->rt.lock);
    s->rt.stop = 1;
    if (s->rt.child > 0) kill(s->rt.child, SIGTERM);
    pthread_cond_signal(&s->rt.cv);
    pthread_mutex_unlock(&s->rt.lock);
    if (s->rt.started) pthread_join(s->rt.thread, NULL);
    s->rt.started = s->rt.inited = 0;
    pthread_mutex_destroy(&s->rt.lock);
    pthread_cond_destroy(&s->rt.cv);
    free(s->rt.memory_dir), free(s->rt.model), free(s->rt.tokenizer), free(s->rt.exe), free(s->rt.dir), free(s->rt.adapter_dir);
}

json_t *rt_retrain_json(rt_server *s) {
    if (!s->rt.inited) return json_pack("{s:b}", "enabled", 0);
    pthread_mutex_lock(&s->rt.lock);
    json_t *o = json_pack("{s:b, s:i, s:i, s:i, s:i, s:i, s:b, s:i}", "enabled", s->p.retrain_every > 0, "every", s->p.retrain_every,
                          "rounds", s->rt.rounds, "swaps", s->rt.swaps, "rejections", s->rt.rejections, "failures", s->rt.failures,
                          "running", s->rt.running, "pending", s->rt.pending);
    json_object_set_new(o, "val_loss", isnan(s->rt.val_loss) ? json_null() : json_real(s->rt.val_loss));
    pthread_mutex_unlock(&s->rt.lock);
    return o;
}
