/* train_throughput.c: LoRA SFT training throughput on the SmolLM-135M shape, retrace against
 * PyTorch + PEFT (bench/train_throughput_torch.py) on the same ids, shape and thread count, in one run.
 *
 *   bench_train_throughput [--threads N] [--steps S] [--warmup W] [--seq 512] [--rank 16] [--no-peer]
 *                          [--base-dtype f32|bf16] [--peers f32,bf16,autocast]
 *
 * Each step is forward + backward + AdamW over the LoRA parameters (r on all seven projections,
 * alpha 2r, dropout 0, loss over all tokens), as the peer does. --base-dtype bf16 runs retrace's frozen
 * base in bf16 (rt_model_set_base_dtype). --peers lists the peer's precisions to run (see the script):
 * f32 by default, f32,bf16 with --base-dtype bf16. Prints tokens/s, seconds per step and peak RSS of
 * each (and CPU seconds per step, all threads, which contention from other processes moves far less than
 * wall time), and retrace's ratio to each peer. Run from the repository root (the peer script is found there). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "retrace.h"

#define VOCAB 49152
#define MAX_PEERS 3

static long peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

static int write_ids(const char *path, const int32_t *ids, int rows, int seq) {
    rt_st_writer *w = rt_st_writer_new();
    int64_t shape[2] = {rows, seq};
    rt_status s = rt_st_writer_add_raw(w, "input_ids", RT_DTYPE_I32, 2, shape, ids);
    if (s == RT_OK) s = rt_st_writer_save(w, path);
    rt_st_writer_free(w);
    return s == RT_OK;
}

int main(int argc, char **argv) {
    int threads = rt_threads(), steps = 3, warmup = 1, seq = 512, rank = 16, peer = 1;
    rt_base_dtype base = RT_BASE_F32;
    const char *peers_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int *target = !strcmp(a, "--threads") ? &threads : !strcmp(a, "--steps") ? &steps : !strcmp(a, "--warmup") ? &warmup
                      : !strcmp(a, "--seq") ? &seq : !strcmp(a, "--rank") ? &rank : NULL;
        if (target && i + 1 < argc) *target = atoi(argv[++i]);
        else if (!strcmp(a, "--no-peer")) peer = 0;
        else if (!strcmp(a, "--base-dtype") && i + 1 < argc && (!strcmp(argv[i + 1], "f32") || !strcmp(argv[i + 1], "bf16")))
            base = !strcmp(argv[++i], "bf16") ? RT_BASE_BF16 : RT_BASE_F32;
        else if (!strcmp(a, "--peers") && i + 1 < argc) peers_arg = argv[++i];
        else {
            fprintf(stderr, "usage: bench_train_throughput [--threads N] [--steps S] [--warmup W] [--seq T] [--rank R] [--no-peer] [--base-dtype f32|bf16] [--peers f32,bf16,autocast]\n");
            return 2;
        }
    }
    rt_set_threads(threads);
    rt_model_config cfg = {.arch = RT_ARCH_LLAMA, .hidden_size = 576, .intermediate_size = 1536, .n_layers = 30,
                           .n_heads = 9, .n_kv_heads = 3, .head_dim = 64, .vocab_size = VOCAB,
                           .max_position_embeddings = 2048, .rms_norm_eps = 1e-5f,
                           .rope = {.kind = RT_ROPE_DEFAULT, .theta = 10000.0}, .tie_word_embeddings = 1,
                           .bos_token_id = -1, .eos_token_id = -1};
    int rows = warmup + steps;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)rows * seq), *targets = malloc(sizeof(int32_t) * (size_t)seq);
    rt_rng rng;
    rt_rng_seed(&rng, 1234);
    for (size_t i = 0; i < (size_t)rows * seq; i++) ids[i] = (int32_t)rt_rng_below(&rng, VOCAB);
    char ids_path[] = "/tmp/rt_bench_ids_XXXXXX.safetensors";
    int fd = mkstemps(ids_path, 12);
    if (fd < 0 || !write_ids(ids_path, ids, rows, seq)) {
        fprintf(stderr, "bench: cannot write %s: %s\n", ids_path, rt_errmsg());
        return 1;
    }

    /* The peers first, so our peak RSS is not in their measurement and theirs is not in ours. */
    char peers_buf[64];
    snprintf(peers_buf, sizeof peers_buf, "%s", peers_arg ? peers_arg : base == RT_BASE_BF16 ? "f32,bf16" : "f32");
    json_t *peer_res[MAX_PEERS] = {NULL};
    int n_peers = 0;
    for (char *save = NULL, *tok = strtok_r(peers_buf, ",", &save); peer && tok && n_peers < MAX_PEERS;
         tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "f32") && strcmp(tok, "bf16") && strcmp(tok, "autocast")) {
            fprintf(stderr, "bench: --peers takes f32, bf16 and autocast (got '%s')\n", tok);
            return 2;
        }
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "python3 bench/train_throughput_torch.py --threads %d --steps %d --warmup %d --seq %d --rank %d --ids %s --dtype %s",
                 threads, steps, warmup, seq, rank, ids_path, tok);
        fprintf(stderr, "running the peer: %s\n", cmd);
        FILE *p = popen(cmd, "r");
        char line[4096] = "";
        json_t *res = NULL;
        if (p) {
            while (fgets(line, sizeof line, p))
                if (line[0] == '{') res = json_loads(line, 0, NULL);
            pclose(p);
        }
        if (res) peer_res[n_peers++] = res;
        else fprintf(stderr, "bench: the PyTorch peer (%s) gave no result (torch, transformers, peft installed?)\n", tok);
    }

    rt_model *m;
    if (rt_model_new_random(&cfg, 1, &m) != RT_OK) return fprintf(stderr, "%s\n", rt_errmsg()), 1;
    rt_lora_config lc = {.r = rank, .alpha = 2.0f * rank, .rslora = 0, .dropout = 0.0f, .proj_mask = RT_PROJ_ALL_MASK};
    rt_lora_attach(m, &lc, 2);
    if (rt_model_set_base_dtype(m, base) != RT_OK) return fprintf(stderr, "bench: %s\n", rt_errmsg()), 1;
    rt_model_train_setup(m, 0);
    rt_adamw opt;
    rt_adamw_params hp = rt_adamw_params_default();
    hp.lr = 1e-4f;
    rt_adamw_init(&opt, m->param_list, m->n_param_list, hp);
    double t0 = 0, c0 = 0;
    float loss = 0;
    for (int s = 0; s < rows; s++) {
        if (s == warmup) t0 = rt_now(), c0 = rt_cpu_now();
        const int32_t *x = ids + (size_t)s * seq;
        for (int t = 0; t < seq; t++) targets[t] = t + 1 < seq ? x[t + 1] : -1;
        rt_params_zero_grad(m->param_list, m->n_param_list);
        if (rt_model_forward(m, x, targets, 1, seq, &loss) != RT_OK || rt_model_backward(m, 1.0f) != RT_OK)
            return fprintf(stderr, "%s\n", rt_errmsg()), 1;
        rt_adamw_step(&opt, hp.lr);
        fprintf(stderr, "retrace step %d/%d loss %.4f\n", s + 1, rows, loss);
    }
    double step_s = (rt_now() - t0) / steps, step_cpu = (rt_cpu_now() - c0) / steps;
    double tps = seq / step_s;
    long rss = peak_rss_mb();

    printf("LoRA SFT throughput, SmolLM-135M shape (hidden 576, 30 layers, 9/3 heads, vocab 49152), seq %d, r %d on all 7 projections, %d threads\n",
           seq, rank, threads);
    printf("%-22s %12s %10s %10s %14s %10s\n", "impl", "tokens/s", "step s", "cpu s", "peak RSS MB", "loss");
    char name[64];
    snprintf(name, sizeof name, "retrace (%s base)", rt_base_dtype_name(base));
    printf("%-22s %12.1f %10.2f %10.2f %14ld %10.4f\n", name, tps, step_s, step_cpu, rss, loss);
    for (int i = 0; i < n_peers; i++) {
        const char *dt = json_string_value(json_object_get(peer_res[i], "dtype"));
        snprintf(name, sizeof name, "pytorch+peft (%s)", dt ? dt : "?");
        printf("%-22s %12.1f %10.2f %10.2f %14.0f %10.4f\n", name, json_number_value(json_object_get(peer_res[i], "tokens_per_s")),
               json_number_value(json_object_get(peer_res[i], "step_s")), json_number_value(json_object_get(peer_res[i], "step_cpu_s")),
               json_number_value(json_object_get(peer_res[i], "peak_rss_mb")),
               json_number_value(json_object_get(peer_res[i], "final_loss")));
    }
    for (int i = 0; i < n_peers; i++) {
        const char *dt = json_string_value(json_object_get(peer_res[i], "dtype"));
        double ptps = json_number_value(json_object_get(peer_res[i], "tokens_per_s"));
        double prss = json_number_value(json_object_get(peer_res[i], "peak_rss_mb"));
        printf("ratio retrace (%s) / pytorch (%s): tokens/s %.2fx, peak RSS %.2fx\n", rt_base_dtype_name(base), dt ? dt : "?",
               tps / ptps, (double)rss / prss);
        json_decref(peer_res[i]);
    }
    rt_adamw_free(&opt);
    rt_model_free(m);
    remove(ids_path);
    free(ids);
    free(targets);
    return 0;
}
