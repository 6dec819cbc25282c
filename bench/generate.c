/* generate.c: inference speed on the SmolLM2-135M shape: prefill and decode tokens/s, against llama.cpp
 * (bench/generate_peer.py through llama-cpp-python) on the same prompt ids and threads, and an
 * agent-shaped workload (many sequences whose prompts grow a little per step).
 *
 *   bench_generate [--model DIR|FILE] [--threads N] [--prompt 1200] [--decode 64] [--batch 16]
 *                  [--gguf FILE.gguf ...] [--no-peer] [--bf16]
 *                  [--agent-seqs 16] [--agent-steps 10] [--agent-noreuse-seqs 2] [--no-agent]
 *                  [--agent-modes noreuse,reuse,batched]
 *
 * Without --model the weights are random (rt_model_new_random) in the SmolLM2-135M-Instruct shape:
 * speed does not depend on the values. --gguf (repeatable) names the files the peer runs (by default
 * the Q4_1 file that scripts/get-model.sh fetches). The agent workload: each sequence starts from a
 * 1200-token prompt; each step generates 20 tokens (greedy, no EOS) and the next prompt is the last one
 * plus those 20 tokens plus 20 new ones (+40 per step); run three ways: one sequence at a time with
 * rt_generate (the whole prompt prefilled every step; on --agent-noreuse-seqs sequences, as every step
 * costs the same whatever the count), one at a time with a session each (only the new suffix
 * prefilled), and all sequences together with rt_generate_batch. Prints wall and CPU seconds (CPU
 * time moves less than wall time when other processes share the cores). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retrace.h"

#ifdef RT_BENCH_BASELINE
typedef struct rt_gen_session rt_gen_session;
#endif

#define AGENT_PROMPT 1200
#define AGENT_NEW 20
#define AGENT_GEN 20
#define MAX_GGUF 4

static void die(const char *what) {
    fprintf(stderr, "bench_generate: %s: %s\n", what, rt_errmsg());
    exit(1);
}

typedef struct {
    double prefill_tps, decode_tps, prefill_cpu_tps, decode_cpu_tps; /* per wall second, per CPU second */
} speed;

/* Prefill of the prompt into a fresh cache, then n_decode tokens one at a time (best of reps). */
static speed measure_single(rt_model *m, const int32_t *ids, int n_prompt, int n_decode, int reps) {
    speed best = {0, 0, 0, 0};
    float *logits = malloc(sizeof(float) * m->cfg.vocab_size);
    for (int r = 0; r < reps; r++) {
        rt_kv_cache c;
        if (rt_kv_cache_init(&c, m, n_prompt + n_decode) != RT_OK) die("cache");
        double t0 = rt_now(), c0 = rt_cpu_now();
        if (rt_model_decode(m, &c, ids, n_prompt, logits) != RT_OK) die("prefill");
        double t1 = rt_now(), c1 = rt_cpu_now();
        for (int i = 0; i < n_decode; i++)
            if (rt_model_decode(m, &c, ids + n_prompt + i, 1, logits) != RT_OK) die("decode");
        double t2 = rt_now(), c2 = rt_cpu_now();
        rt_kv_cache_free(&c);
        double p = n_prompt / (t1 - t0), d = n_decode / (t2 - t1);
        if (p > best.prefill_tps) best.prefill_tps = p, best.prefill_cpu_tps = n_prompt / (c1 - c0);
        if (d > best.decode_tps) best.decode_tps = d, best.decode_cpu_tps = n_decode / (c2 - c1);
    }
    free(logits);
    return best;
}

/* The agent workload, one of three ways. The first step (every prompt prefilled from nothing) and the
 * later ones are timed apart: *first gets the first step's wall seconds, *later the mean of the others,
 * *cpu all CPU seconds, *tokens the prompt and generated tokens of the later steps. */
typedef enum { AGENT_NOREUSE, AGENT_REUSE, AGENT_BATCHED } agent_mode;
static const char *const AGENT_NAMES[] = {"one at a time, no reuse", "sessions, one at a time", "batched sessions"};

static void run_agent(rt_model *m, agent_mode mode, int seqs, int steps, int bf16, double *first, double *later,
                      double *cpu, long *tokens) {
    int max_len = AGENT_PROMPT + steps * (AGENT_GEN + AGENT_NEW) + AGENT_GEN;
    int32_t **prompt = malloc(sizeof *prompt * seqs), **out = malloc(sizeof *out * seqs);
    int *n = malloc(sizeof *n * seqs), *n_out = malloc(sizeof *n_out * seqs);
    rt_gen_session **ss = calloc((size_t)seqs, sizeof *ss);
    rt_gen_params *gp = malloc(sizeof *gp * seqs);
    rt_rng rng;
    rt_rng_seed(&rng, 99);
    for (int b = 0; b < seqs; b++) {
        prompt[b] = malloc(sizeof(int32_t) * max_len), out[b] = malloc(sizeof(int32_t) * AGENT_GEN);
        n[b] = AGENT_PROMPT;
        for (int i = 0; i < AGENT_PROMPT; i++) prompt[b][i] = (int32_t)rt_rng_below(&rng, m->cfg.vocab_size);
        gp[b] = rt_gen_params_default();
        gp[b].max_new_tokens = AGENT_GEN, gp[b].seed = (uint64_t)b;
#ifndef RT_BENCH_BASELINE
        if (mode != AGENT_NOREUSE && rt_gen_session_new(m, max_len, &ss[b]) != RT_OK) die("session");
        if (ss[b] && bf16 && rt_gen_session_set_bf16(ss[b], 1) != RT_OK) die("bf16");
#endif
    }
    *tokens = 0;
    double t0 = rt_now(), c0 = rt_cpu_now(), t1 = t0;
    for (int s = 0; s < steps; s++) {
        if (s == 1) t1 = rt_now();
#ifdef RT_BENCH_BASELINE
        if (mode != AGENT_NOREUSE) die("the baseline build has no sessions");
        for (int b = 0; b < seqs; b++)
            if (rt_generate(m, prompt[b], n[b], &gp[b], out[b], &n_out[b]) != RT_OK) die("generate");
#else
        if (mode == AGENT_BATCHED) {
            if (rt_generate_batch(ss, seqs, (const int32_t *const *)prompt, n, gp, out, n_out) != RT_OK) die("batch");
        } else {
            for (int b = 0; b < seqs; b++) {
                rt_status st = mode == AGENT_NOREUSE ? rt_generate(m, prompt[b], n[b], &gp[b], out[b], &n_out[b])
                                                     : rt_gen_session_generate(ss[b], prompt[b], n[b], &gp[b], out[b], &n_out[b]);
                if (st != RT_OK) die("generate");
            }
        }
#endif
        for (int b = 0; b < seqs; b++) {
            if (s > 0) *tokens += n[b] + n_out[b];
            memcpy(prompt[b] + n[b], out[b], sizeof(int32_t) * n_out[b]);
            n[b] += n_out[b];
            for (int i = 0; i < AGENT_NEW; i++) prompt[b][n[b]++] = (int32_t)rt_rng_below(&rng, m->cfg.vocab_size);
        }
        fprintf(stderr, "  %s: step %d/%d at %.1f s\n", AGENT_NAMES[mode], s + 1, steps, rt_now() - t0);
    }
    double t2 = rt_now();
    *first = t1 - t0, *later = steps > 1 ? (t2 - t1) / (steps - 1) : 0;
    *cpu = rt_cpu_now() - c0;
    for (int b = 0; b < seqs; b++) {
        free(prompt[b]), free(out[b]);
#ifndef RT_BENCH_BASELINE
        rt_gen_session_free(ss[b]);
#endif
    }
    free(prompt), free(out), free(n), free(n_out), free(ss), free(gp);
}

#ifndef RT_BENCH_BASELINE /* defined to build this file against the code before sessions (for "before" numbers) */
/* Batched decode alone: B sessions with short prompts, then decode tokens/s over all of them. */
static double measure_batched_decode(rt_model *m, const int32_t *ids, int n_prompt, int B, int n_decode, int bf16,
                                     double *cpu_tps) {
    rt_gen_session **ss = malloc(sizeof *ss * B);
    const int32_t **pr = malloc(sizeof *pr * B);
    int32_t **out = malloc(sizeof *out * B);
    int *np = malloc(sizeof *np * B), *no = malloc(sizeof *no * B);
    rt_gen_params *gp = malloc(sizeof *gp * B);
    for (int b = 0; b < B; b++) {
        if (rt_gen_session_new(m, n_prompt + n_decode + 1, &ss[b]) != RT_OK) die("session");
        if (bf16 && rt_gen_session_set_bf16(ss[b], 1) != RT_OK) die("bf16");
        pr[b] = ids + b, np[b] = n_prompt, out[b] = malloc(sizeof(int32_t) * (n_decode + 1));
        gp[b] = rt_gen_params_default();
        gp[b].max_new_tokens = 1;
    }
    /* prefill (1 token generated), then time the decode of n_decode more with the prefix reused */
    if (rt_generate_batch(ss, B, pr, np, gp, out, no) != RT_OK) die("batch prefill");
    for (int b = 0; b < B; b++) gp[b].max_new_tokens = n_decode + 1;
    double t0 = rt_now(), c0 = rt_cpu_now();
    if (rt_generate_batch(ss, B, pr, np, gp, out, no) != RT_OK) die("batch decode");
    double t = rt_now() - t0;
    *cpu_tps = (double)B * n_decode / (rt_cpu_now() - c0);
    for (int b = 0; b < B; b++) rt_gen_session_free(ss[b]), free(out[b]);
    free(ss), free(pr), free(out), free(np), free(no), free(gp);
    return (double)B * n_decode / t;
}
#endif

/* Runs the llama.cpp peer on one GGUF file; fills prefill/decode tokens/s, 0 when it gave none. */
static speed run_peer(const char *gguf, const char *ids_path, int threads, int n_prompt, int n_decode) {
    char cmd[2048], line[4096];
    snprintf(cmd, sizeof cmd, "python3 bench/generate_peer.py --gguf '%s' --ids %s --threads %d --prompt %d --decode %d",
             gguf, ids_path, threads, n_prompt, n_decode);
    fprintf(stderr, "running the peer: %s\n", cmd);
    speed s = {0, 0, 0, 0};
    FILE *p = popen(cmd, "r");
    if (!p) return s;
    while (fgets(line, sizeof line, p))
        if (sscanf(line, "RESULT prefill_tps=%lf decode_tps=%lf", &s.prefill_tps, &s.decode_tps) == 2) break;
    pclose(p);
    return s;
}

int main(int argc, char **argv) {
    int threads = rt_threads(), n_prompt = AGENT_PROMPT, n_decode = 64, batch = 16, peer = 1, agent = 1, bf16 = 0;
    int agent_seqs = 16, agent_steps = 10, noreuse_seqs = 2, n_gguf = 0;
    const char *model = NULL, *gguf[MAX_GGUF], *modes = "noreuse,reuse,batched";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int *t = !strcmp(a, "--threads") ? &threads : !strcmp(a, "--prompt") ? &n_prompt : !strcmp(a, "--decode") ? &n_decode
               : !strcmp(a, "--batch") ? &batch : !strcmp(a, "--agent-seqs") ? &agent_seqs
               : !strcmp(a, "--agent-steps") ? &agent_steps : !strcmp(a, "--agent-noreuse-seqs") ? &noreuse_seqs : NULL;
        if (t && i + 1 < argc) *t = atoi(argv[++i]);
        else if (!strcmp(a, "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(a, "--agent-modes") && i + 1 < argc) modes = argv[++i];
        else if (!strcmp(a, "--gguf") && i + 1 < argc && n_gguf < MAX_GGUF) gguf[n_gguf++] = argv[++i];
        else if (!strcmp(a, "--no-peer")) peer = 0;
        else if (!strcmp(a, "--no-agent")) agent = 0;
        else if (!strcmp(a, "--bf16")) bf16 = 1;
        else {
            fprintf(stderr, "usage: bench_generate [--model DIR] [--threads N] [--prompt P] [--decode D] [--batch B] "
                            "[--gguf FILE]... [--no-peer] [--bf16] [--agent-seqs S] [--agent-steps K] "
                            "[--agent-noreuse-seqs S] [--no-agent] [--agent-modes noreuse,reuse,batched]\n");
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    rt_set_threads(threads);
    rt_model *m;
    if (model) {
        if (rt_model_load(model, &m) != RT_OK) die(model);
    } else {
        rt_model_config cfg = {.arch = RT_ARCH_LLAMA, .hidden_size = 576, .intermediate_size = 1536, .n_layers = 30,
                               .n_heads = 9, .n_kv_heads = 3, .head_dim = 64, .vocab_size = 49152,
                               .max_position_embeddings = 8192, .rms_norm_eps = 1e-5f,
                               .rope = {.kind = RT_ROPE_DEFAULT, .theta = 100000.0}, .tie_word_embeddings = 1,
                               .bos_token_id = -1, .eos_token_id = -1};
        if (rt_model_new_random(&cfg, 1, &m) != RT_OK) die("random model");
    }
    if (bf16 && rt_model_set_base_dtype(m, RT_BASE_BF16) != RT_OK) die("bf16 copy");
    int V = m->cfg.vocab_size, n_ids = n_prompt + n_decode + batch;
    int32_t *ids = malloc(sizeof(int32_t) * n_ids);
    rt_rng rng;
    rt_rng_seed(&rng, 7);
    for (int i = 0; i < n_ids; i++) ids[i] = (int32_t)rt_rng_below(&rng, V < 32000 ? V : 32000);
    char ids_path[] = "/tmp/rt_bench_gen_ids_XXXXXX";
    int fd = mkstemp(ids_path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) return fprintf(stderr, "bench_generate: cannot write %s\n", ids_path), 1;
    for (int i = 0; i < n_ids; i++) fprintf(f, "%d\n", ids[i]);
    fclose(f);

    printf("generation, %s (hidden %d, %d layers, %d/%d heads, vocab %d), %s weights, %d threads, prompt %d, decode %d\n",
           model ? model : "random SmolLM2-135M shape", m->cfg.hidden_size, m->cfg.n_layers, m->cfg.n_heads,
           m->cfg.n_kv_heads, V, bf16 ? "bf16" : "f32", threads, n_prompt, n_decode);
    speed ours = measure_single(m, ids, n_prompt, n_decode, 2);
    printf("%-34s prefill %8.1f tok/s   decode %7.1f tok/s   (per CPU second: prefill %.1f, decode %.1f)\n",
           "retrace (B=1)", ours.prefill_tps, ours.decode_tps, ours.prefill_cpu_tps, ours.decode_cpu_tps);
#ifdef RT_BENCH_BASELINE
    double bd = 0;
#else
    double bd_cpu, bd = measure_batched_decode(m, ids, n_prompt, batch, n_decode, bf16, &bd_cpu);
    printf("%-34s                          decode %7.1f tok/s   (per CPU second: decode %.1f; B=%d)\n",
           "retrace batched", bd, bd_cpu, batch);
#endif
    if (peer && !n_gguf) gguf[n_gguf++] = "/root/.cache/retrace/models/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
    for (int g = 0; peer && g < n_gguf; g++) {
        speed p = run_peer(gguf[g], ids_path, threads, n_prompt, n_decode);
        if (p.prefill_tps <= 0) {
            fprintf(stderr, "bench_generate: the llama.cpp peer gave no result for %s (llama-cpp-python installed?)\n", gguf[g]);
            continue;
        }
        const char *base = strrchr(gguf[g], '/');
        printf("llama.cpp %-24s prefill %8.1f tok/s   decode %7.1f tok/s   retrace/llama.cpp: prefill %.2fx, decode %.2fx (B=1), %.2fx (batched)\n",
               base ? base + 1 : gguf[g], p.prefill_tps, p.decode_tps, ours.prefill_tps / p.prefill_tps,
               ours.decode_tps / p.decode_tps, bd / p.decode_tps);
    }
    remove(ids_path);
    if (agent) {
        printf("agent workload: %d-token prompts growing %d per step (%d generated + %d new), %d steps\n", AGENT_PROMPT,
               AGENT_GEN + AGENT_NEW, AGENT_GEN, AGENT_NEW, agent_steps);
        printf("%-26s %5s %12s %12s %9s %11s %12s %12s\n", "mode", "seqs", "step 1 s", "later s/step", "cpu s",
               "tokens/s", "steps/hour", "(10 steps)");
#ifdef RT_BENCH_BASELINE
        int last_mode = AGENT_NOREUSE;
#else
        int last_mode = AGENT_BATCHED;
#endif
        for (int mode = AGENT_NOREUSE; mode <= last_mode; mode++) {
            int seqs = mode == AGENT_NOREUSE ? noreuse_seqs : agent_seqs;
            static const char *const keys[] = {"noreuse", "reuse", "batched"};
            int listed = 0;
            for (const char *at = strstr(modes, keys[mode]); at && !listed; at = strstr(at + 1, keys[mode]))
                listed = (at == modes || at[-1] == ',') && (at[strlen(keys[mode])] == ',' || !at[strlen(keys[mode])]);
            if (seqs <= 0 || !listed) continue;
            double first, later, cpu;
            long tokens;
            run_agent(m, (agent_mode)mode, seqs, agent_steps, bf16, &first, &later, &cpu, &tokens);
            /* steps/hour: sequence-steps per hour at the later steps' rate, and over a 10-step episode
             * including its first step */
            double ten = first + 9 * later;
            printf("%-26s %5d %12.1f %12.2f %9.1f %11.1f %12.0f %12.0f\n", AGENT_NAMES[mode], seqs, first, later, cpu,
                   later > 0 ? tokens / (later * (agent_steps - 1)) : 0, later > 0 ? 3600.0 * seqs / later : 0,
                   3600.0 * seqs * 10 / ten);
        }
        printf("(tokens/s: every prompt and generated token of the later steps, reused or not, per wall second)\n");
    }
    free(ids);
    rt_model_free(m);
    return 0;
}
