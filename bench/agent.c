/* bench/agent.c: speed of the agent loop in evaluation: episodes per second, and the time per step spent
 * retrieving experience against the time spent decoding (the target: retrieval under 10% of a
 * step). It builds what it needs in a temporary folder: household episodes from the noisy expert
 * (successes and failures, so negatives are mined), memories of several sizes with the hash embedder, a
 * byte-level BPE tokenizer trained on the built-in episode corpus, and a model with the shape of the
 * full bench's base model (random weights unless --model names a trained one). Then it runs the same
 * evaluation episodes (one more first, to warm up) with no retrieval, with dynamic retrieval from each
 * memory, and with static retrieval from the largest.
 *
 * A random model never writes a stop string, so every step decodes all --max-new tokens: the most
 * decoding a step can cost, which makes the retrieval share the smallest it can be. A trained model
 * (--model DIR, e.g. the base/model folder of a `retrace bench` run) stops at the end of its step and
 * gives the realistic share.
 *
 * usage: bench_agent [--episodes N (5)] [--sizes N,N,... (2000,20000)] [--model DIR] [--max-new N]
 *                    [--max-steps N (10)] [--budget N] [--threads N] [--keep]
 * (--max-new and --budget default to the agent's defaults.)
 * Results are recorded in docs/BENCHMARKS.md ("Agent loop"). */
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "retrace.h"

#define MAX_SIZES 8
#define MEMORY_SEED 11   /* episodes in memory */
#define EVAL_SEED 1000003 /* evaluation episodes: retrace eval's default, apart from the memory's */
#define MODEL_SEED 1
#define NOISE 0.3        /* the noisy expert's flaw probability: about a third of the memory fails */
#define CORPUS_EPISODES 2000 /* the tokenizer's training text */
/* The full bench's base model (cmd_bench.c, scale "full"; the pretrain defaults otherwise). */
#define MODEL_HIDDEN 128
#define MODEL_LAYERS 4
#define MODEL_HEADS 4
#define MODEL_KV_HEADS 2
#define MODEL_INTERMEDIATE 352
#define MODEL_VOCAB 2048
#define MODEL_MAX_POSITIONS 512
#define BREAKDOWN_QUERIES 200

typedef struct {
    long long episodes, max_new, max_steps, budget, threads;
    long long sizes[MAX_SIZES];
    int n_sizes, keep;
    const char *model;
} options;

static void die(const char *what) {
    fprintf(stderr, "bench_agent: %s: %s\n", what, rt_errmsg());
    exit(1);
}

static void check(rt_status s, const char *what) {
    if (s != RT_OK) die(what);
}

static long long parse_ll(const char *opt, const char *v) {
    char *end;
    long long x = v ? strtoll(v, &end, 10) : -1;
    if (!v || *end || x < 1) {
        fprintf(stderr, "bench_agent: %s needs a positive integer\n", opt);
        exit(2);
    }
    return x;
}

static void parse(int argc, char **argv, options *o) {
    *o = (options){.episodes = 5, .max_new = rt_agent_params_default().decoding.max_new_tokens, .max_steps = 10,
                   .budget = rt_agent_params_default().budget_tokens, .sizes = {2000, 20000}, .n_sizes = 2};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--keep")) o->keep = 1;
        else if (!strcmp(a, "--model") && v) o->model = v, i++;
        else if (!strcmp(a, "--episodes")) o->episodes = parse_ll(a, v), i++;
        else if (!strcmp(a, "--max-new")) o->max_new = parse_ll(a, v), i++;
        else if (!strcmp(a, "--max-steps")) o->max_steps = parse_ll(a, v), i++;
        else if (!strcmp(a, "--budget")) o->budget = parse_ll(a, v), i++;
        else if (!strcmp(a, "--threads")) o->threads = parse_ll(a, v), i++;
        else if (!strcmp(a, "--sizes") && v) {
            o->n_sizes = 0;
            char *copy = rt_strdup(v);
            for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ","))
                if (o->n_sizes < MAX_SIZES) o->sizes[o->n_sizes++] = parse_ll("--sizes", tok);
            free(copy);
            i++;
        } else {
            fprintf(stderr, "usage: bench_agent [--episodes N] [--sizes N,N,...] [--model DIR] [--max-new N] "
                            "[--max-steps N] [--budget N] [--threads N] [--keep]\n");
            exit(2);
        }
    }
}

/* ---- setup ---- */

/* The memory's episodes as JSON lines, from the noisy expert on the training split (the world's own
 * step budget). */
static char **gen_episodes(long long n, int *successes) {
    rt_env_config cfg = rt_env_config_default();
    rt_env *env;
    check(rt_env_open("household", &cfg, &env), "household");
    rt_policy pol = rt_policy_default();
    pol.kind = RT_POLICY_NOISY, pol.noise = NOISE;
    char **lines = rt_malloc((size_t)n * sizeof *lines);
    *successes = 0;
    for (long long i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "mem-%06lld", i);
        json_t *ep;
        check(rt_env_run_episode(env, &pol, rt_env_episode_seed(MEMORY_SEED, (uint64_t)i), id, &ep), "gen");
        *successes += !strcmp(json_string_value(json_object_get(ep, "outcome")), "success");
        lines[i] = rt_env_dump_line(ep);
        json_decref(ep);
    }
    rt_env_close(env);
    return lines;
}

static void build_memory(const char *dir, char **lines, long long n) {
    rt_memory_init_params ip = rt_memory_init_params_default();
    check(rt_memory_init(dir, &ip), dir);
    rt_memory *m;
    check(rt_memory_open(dir, RT_MEMORY_WRITE, &m), dir);
    rt_memory_add_opts opts = {0};
    rt_memory_batch *b;
    check(rt_memory_batch_begin(m, &opts, &b), dir);
    for (long long i = 0; i < n; i++) check(rt_memory_batch_add(b, lines[i], "episodes"), dir);
    rt_memory_add_stats st;
    check(rt_memory_batch_commit(b, &st), dir);
    rt_memory_close(m);
}

/* A tokenizer trained on episodes as the prompts show them (as `retrace pretrain --episodes` trains it)
 * and a model of the bench's base shape. */
static void random_model(const char *dir, char **lines, long long n, rt_tokenizer **tok, rt_model **m) {
    char *corpus_path = rt_path_join(dir, "corpus.txt");
    rt_strbuf text = {0};
    for (long long i = 0; i < n && i < CORPUS_EPISODES; i++) {
        char *r;
        check(rt_episode_render(lines[i], &r), "render");
        rt_strbuf_add(&text, r);
        rt_strbuf_add(&text, "\n");
        free(r);
    }
    check(rt_file_write_atomic(corpus_path, text.buf, text.len), corpus_path);
    static const char *specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    rt_bpe_train_params bp = rt_bpe_train_params_default();
    bp.vocab_size = MODEL_VOCAB, bp.special_tokens = specials, bp.n_special = 3, bp.eos_token = "<|im_end|>";
    bp.chat_template = rt_chat_template_text("chatml");
    const char *files[] = {corpus_path};
    check(rt_bpe_train(files, 1, &bp, dir), "tokenizer");
    check(rt_tokenizer_load(dir, tok), "tokenizer");
    rt_model_config cfg = {.arch = RT_ARCH_LLAMA, .hidden_size = MODEL_HIDDEN, .intermediate_size = MODEL_INTERMEDIATE,
                           .n_layers = MODEL_LAYERS, .n_heads = MODEL_HEADS, .n_kv_heads = MODEL_KV_HEADS,
                           .head_dim = MODEL_HIDDEN / MODEL_HEADS, .max_position_embeddings = MODEL_MAX_POSITIONS,
                           .rms_norm_eps = 1e-5f, .rope = {.kind = RT_ROPE_DEFAULT, .theta = 10000.0},
                           .tie_word_embeddings = 1, .vocab_size = rt_tokenizer_vocab_size(*tok),
                           .bos_token_id = rt_tokenizer_bos_id(*tok), .eos_token_id = rt_tokenizer_eos_id(*tok)};
    check(rt_model_new_random(&cfg, MODEL_SEED, m), "model");
    free(corpus_path);
    free(text.buf);
}

/* ---- the measurement ---- */

typedef struct {
    long long episodes, steps, invalid, retrievals;
    double wall_s, cpu_s, retrieval_s, decode_s;
} totals;

/* One episode of warm-up (caches, the index pages), then the measured episodes. */
static totals run_setup(rt_model *m, const rt_tokenizer *tok, rt_memory *mem, int dynamic, const options *o) {
    rt_env_config cfg = rt_env_config_default();
    cfg.max_steps = (int)o->max_steps;
    rt_env *env;
    check(rt_env_open("household", &cfg, &env), "household");
    rt_agent_params ap = rt_agent_params_default();
    ap.retrieval.dynamic = dynamic, ap.decoding.max_new_tokens = (int)o->max_new, ap.budget_tokens = (int)o->budget;
    ap.decoding.seed = EVAL_SEED;
    rt_agent agent = {m, tok, mem, ap};
    totals t = {0};
    for (long long i = -1; i < o->episodes; i++) {
        char id[64];
        snprintf(id, sizeof id, "eval-%06lld", i + 1);
        json_t *ep;
        rt_agent_stats st;
        double t0 = rt_now(), c0 = rt_cpu_now();
        check(rt_agent_run_episode(&agent, env, rt_env_episode_seed(EVAL_SEED, (uint64_t)(i + 1)), id, &ep, &st),
              "episode");
        double wall = rt_now() - t0, cpu = rt_cpu_now() - c0;
        json_decref(ep);
        if (i < 0) continue;
        t.episodes++, t.steps += st.steps, t.invalid += st.invalid_actions, t.retrievals += st.retrievals;
        t.wall_s += wall, t.cpu_s += cpu, t.retrieval_s += st.retrieval_s, t.decode_s += st.decode_s;
    }
    rt_env_close(env);
    return t;
}

static void print_row(const char *label, const totals *t) {
    double per = 1000.0 / (double)t->steps;
    printf("%-26s %8lld %6lld %7.2f %8.1f %8.1f %10.2f %9.1f %7.1f %9.2f%%\n", label, t->episodes, t->steps,
           (double)t->episodes / t->wall_s, t->wall_s * per, t->cpu_s * per, t->retrieval_s * per, t->decode_s * per,
           (t->wall_s - t->retrieval_s - t->decode_s) * per, 100.0 * t->retrieval_s / t->wall_s);
}

/* The retrieval keys of evaluation tasks (the task alone: the static key). */
static char **eval_keys(int n) {
    rt_env_config cfg = rt_env_config_default();
    rt_env *env;
    check(rt_env_open("household", &cfg, &env), "household");
    char **keys = rt_malloc((size_t)n * sizeof *keys);
    for (int i = 0; i < n; i++) {
        rt_env_start st;
        check(rt_env_reset(env, rt_env_episode_seed(EVAL_SEED, (uint64_t)i), &st), "reset");
        keys[i] = rt_memory_state_text(st.task ? st.task : "", NULL, 0, 0);
    }
    rt_env_close(env);
    return keys;
}

/* Mean milliseconds per call of one kind of search over the keys. */
static double time_search(rt_memory *mem, char **keys, int n, const rt_memory_query *q, int docs) {
    double t0 = rt_now();
    for (int i = 0; i < n; i++) {
        rt_memory_results r;
        check(rt_memory_search(mem, keys[i], q, &r), "search");
        if (docs) {
            rt_memory_doc *d;
            int nd;
            check(rt_memory_docs_for(mem, keys[i], &r, &d, &nd), "docs");
            rt_memory_docs_free(d, nd);
        }
        rt_memory_results_free(&r);
    }
    return 1000.0 * (rt_now() - t0) / n;
}

/* Where a retrieval's time goes: the graph search alone, then the agent's query (successes only, by
 * environment, reward-weighted), then with its mined negative (a second filtered search), then with the
 * docs lookup: what rt_retrieve does before every step. */
static void retrieval_breakdown(rt_memory *mem, long long size, char **keys, int n) {
    rt_agent_params ap = rt_agent_params_default();
    rt_memory_query q = rt_memory_query_default();
    q.k = ap.retrieval.k;
    double graph = time_search(mem, keys, n, &q, 0);
    q.weight = ap.retrieval.reward_weight, q.env = "household", q.outcome = "success";
    double filtered = time_search(mem, keys, n, &q, 0);
    q.negatives = ap.retrieval.negatives;
    double negatives = time_search(mem, keys, n, &q, 0);
    double all = time_search(mem, keys, n, &q, 1);
    printf("%-26lld %10.3f %14.3f %14.3f %12.3f\n", size, graph, filtered, negatives, all);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char **argv) {
    options o;
    parse(argc, argv, &o);
    if (o.threads > 0) rt_set_threads((int)o.threads);
    rt_log_set_level(RT_LOG_WARN);
    char dir[] = "/tmp/rt_bench_agent_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("bench_agent: mkdtemp");
        return 1;
    }
    long long n_mem = 0;
    for (int i = 0; i < o.n_sizes; i++)
        if (o.sizes[i] > n_mem) n_mem = o.sizes[i];

    double t0 = rt_now();
    int successes;
    char **lines = gen_episodes(n_mem, &successes);
    printf("setup: %lld household episodes (noisy expert, %d successes) in %.2f s\n", n_mem, successes, rt_now() - t0);
    rt_memory **mems = rt_calloc((size_t)o.n_sizes, sizeof *mems);
    for (int i = 0; i < o.n_sizes; i++) {
        char name[64];
        snprintf(name, sizeof name, "mem_%lld", o.sizes[i]);
        char *path = rt_path_join(dir, name);
        t0 = rt_now();
        build_memory(path, lines, o.sizes[i]);
        double built = rt_now() - t0;
        check(rt_memory_open(path, RT_MEMORY_READ, &mems[i]), path);
        printf("setup: memory of %lld episodes (hash embedder) in %.2f s (%.0f episodes/s)\n", o.sizes[i], built,
               (double)o.sizes[i] / built);
        free(path);
    }
    rt_tokenizer *tok;
    rt_model *m;
    t0 = rt_now();
    if (o.model) {
        check(rt_tokenizer_load(o.model, &tok), o.model);
        check(rt_model_load(o.model, &m), o.model);
    } else {
        random_model(dir, lines, n_mem, &tok, &m);
    }
    for (long long i = 0; i < n_mem; i++) free(lines[i]);
    free(lines);
    printf("setup: %s model (%.2fM parameters, vocabulary %d) in %.2f s\n", o.model ? o.model : "random",
           (double)rt_model_param_count(m) / 1e6, rt_tokenizer_vocab_size(tok), rt_now() - t0);
    printf("agent: budget %lld tokens, up to %lld new tokens per step, %lld steps per episode, k %d, negatives %d, "
           "docs on, %d threads\n\n", o.budget, o.max_new, o.max_steps, rt_agent_params_default().retrieval.k,
           rt_agent_params_default().retrieval.negatives, rt_threads());

    printf("%-26s %8s %6s %7s %8s %8s %10s %9s %7s %10s\n", "retrieval", "episodes", "steps", "ep/s", "ms/step",
           "cpu ms", "retr ms", "dec ms", "other", "retr share");
    totals t = run_setup(m, tok, NULL, 0, &o);
    print_row("none", &t);
    for (int i = 0; i < o.n_sizes; i++) {
        char label[64];
        snprintf(label, sizeof label, "dynamic, %lld episodes", o.sizes[i]);
        t = run_setup(m, tok, mems[i], 1, &o);
        print_row(label, &t);
    }
    /* Static retrieval (once per episode) from the largest memory, for comparison. */
    int largest = 0;
    for (int i = 1; i < o.n_sizes; i++)
        if (o.sizes[i] > o.sizes[largest]) largest = i;
    char label[64];
    snprintf(label, sizeof label, "static, %lld episodes", o.sizes[largest]);
    t = run_setup(m, tok, mems[largest], 0, &o);
    print_row(label, &t);
    printf("\nper step: wall ms, process CPU ms (above wall: several threads; below: other processes took the\n"
           "cores), retrieval, decoding, and other (prompt building, parsing, the environment step).\n");

    printf("\nretrieval breakdown, mean ms per call over %d task keys:\n", BREAKDOWN_QUERIES);
    printf("%-26s %10s %14s %14s %12s\n", "memory episodes", "graph k=2", "+success only", "+1 negative", "+docs");
    char **keys = eval_keys(BREAKDOWN_QUERIES);
    for (int i = 0; i < o.n_sizes; i++) retrieval_breakdown(mems[i], o.sizes[i], keys, BREAKDOWN_QUERIES);
    for (int i = 0; i < BREAKDOWN_QUERIES; i++) free(keys[i]);
    free(keys);

    for (int i = 0; i < o.n_sizes; i++) rt_memory_close(mems[i]);
    free(mems);
    rt_model_free(m);
    rt_tokenizer_free(tok);
    if (o.keep) printf("kept %s\n", dir);
    else nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
