/* cmd_pretrain.c: `retrace pretrain` trains a small Llama-style model from scratch (every parameter)
 * on a text, with byte tokens, checkpoints and resume, and saves it in the Hugging Face layout. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "retrace/model.h"
#include "retrace/train.h"

const char rt_cmd_pretrain_summary[] = "train a small model from scratch on a text (byte tokens)";

/* Byte tokens: ids 0..255 are bytes, then the two specials. */
#define BYTE_VOCAB 258
#define BYTE_BOS 256
#define BYTE_EOS 257
#define BUILTIN_CORPUS_BYTES (400 * 1024)
#define SAMPLE_BYTES 240

typedef struct {
    const unsigned char *text;
    size_t len;
} text_data;

static rt_status next_window(void *ctx, rt_rng *rng, int64_t index, int32_t *ids, int32_t *targets, int B, int T,
                            int *T_used) {
    (void)index;
    *T_used = T;
    const text_data *d = ctx;
    for (int b = 0; b < B; b++) {
        size_t start = (size_t)rt_rng_below(rng, d->len - (size_t)T);
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = d->text[start + t];
            targets[b * T + t] = d->text[start + t + 1];
        }
    }
    return RT_OK;
}

static int decode_bytes(void *ctx, const int32_t *ids, int n, char *buf, int cap) {
    (void)ctx;
    int k = 0;
    for (int i = 0; i < n && k < cap; i++)
        if (ids[i] < 256) buf[k++] = (char)ids[i];
    return k;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: retrace pretrain [options] -o DIR\n\n"
            "Trains a small decoder from scratch on --text (default: a built-in corpus of generated agent\n"
            "episodes) with byte tokens, then saves DIR/model (config.json + model.safetensors, loadable by\n"
            "transformers), DIR/checkpoint.safetensors and DIR/loss.jsonl, and prints a sample.\n\n"
            "options:\n"
            "  --text FILE        training text (UTF-8 or any bytes)\n"
            "  --steps N          optimizer steps (300)\n"
            "  --batch N          sequences per step (4)\n"
            "  --seq N            tokens per sequence (256); the sample stays within it\n"
            "  --lr X             peak learning rate (3e-3), linear warmup 10%%, cosine decay to 10%%\n"
            "  --hidden N         hidden size (128); --layers N (4); --heads N (4); --kv-heads N (2)\n"
            "  --intermediate N   MLP size (352)\n"
            "  --seed N           initialisation and data order (1)\n"
            "  --threads N        CPU threads (all cores)\n"
            "  --checkpoint-every N  steps between checkpoints (50)\n"
            "  --resume           continue from DIR/checkpoint.safetensors\n"
            "  --sample TEXT      prompt for the sample at the end (\"task: put a hot \")\n");
}

typedef struct {
    const char *text_path, *out_dir, *sample;
    long long steps, batch, seq, hidden, layers, heads, kv_heads, intermediate, seed, threads, ckpt_every;
    double lr;
    int resume;
} options;

static int parse(int argc, char **argv, options *o) {
    *o = (options){.sample = "task: put a hot ", .steps = 300, .batch = 4, .seq = 256, .hidden = 128, .layers = 4,
                   .heads = 4, .kv_heads = 2, .intermediate = 352, .seed = 1, .ckpt_every = 50, .lr = 3e-3};
    struct {
        const char *name;
        long long *v;
    } ints[] = {{"--steps", &o->steps},     {"--batch", &o->batch},   {"--seq", &o->seq},
                {"--hidden", &o->hidden},   {"--layers", &o->layers}, {"--heads", &o->heads},
                {"--kv-heads", &o->kv_heads}, {"--intermediate", &o->intermediate}, {"--seed", &o->seed},
                {"--threads", &o->threads}, {"--checkpoint-every", &o->ckpt_every}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (rt_cli_is_help(a)) {
            usage(stdout);
            return -1;
        }
        int matched = 0;
        for (size_t k = 0; k < sizeof ints / sizeof *ints; k++)
            if (strcmp(a, ints[k].name) == 0) {
                if (rt_cli_parse_int("pretrain", a, v, ints[k].v)) return RT_EXIT_USAGE;
                if (*ints[k].v < 0 || (*ints[k].v == 0 && strcmp(a, "--threads") && strcmp(a, "--checkpoint-every") && strcmp(a, "--seed")))
                    return rt_cli_usage_error("pretrain", "%s must be positive", a);
                matched = 1, i++;
            }
        if (matched) continue;
        if (strcmp(a, "--lr") == 0) {
            if (rt_cli_parse_float("pretrain", a, v, &o->lr)) return RT_EXIT_USAGE;
            i++;
        } else if (strcmp(a, "--text") == 0 && v) o->text_path = v, i++;
        else if (strcmp(a, "--sample") == 0 && v) o->sample = v, i++;
        else if (strcmp(a, "-o") == 0 && v) o->out_dir = v, i++;
        else if (strcmp(a, "--resume") == 0) o->resume = 1;
        else return rt_cli_usage_error("pretrain", "unknown or incomplete option '%s' (see --help)", a);
    }
    if (!o->out_dir) return rt_cli_usage_error("pretrain", "missing -o DIR");
    return 0;
}

static void print_sample(rt_model *m, const char *prompt_text, int seq) {
    int n = (int)strlen(prompt_text);
    /* Positions past the training length were never seen: rotary embeddings do not extrapolate. */
    int budget = seq - n < SAMPLE_BYTES ? seq - n : SAMPLE_BYTES;
    if (n == 0 || budget <= 0) return;
    int32_t *prompt = rt_malloc(sizeof(int32_t) * (size_t)n), out[SAMPLE_BYTES];
    for (int i = 0; i < n; i++) prompt[i] = (unsigned char)prompt_text[i];
    static const char *const stops[] = {"\n\n", NULL};
    rt_gen_params gp = rt_gen_params_default();
    gp.max_new_tokens = budget;
    gp.temperature = 0.7f;
    gp.top_p = 0.9f;
    gp.seed = 7;
    gp.eos_token_id = BYTE_EOS;
    gp.stop_strings = stops;
    gp.decode = decode_bytes;
    int got = 0;
    if (rt_generate(m, prompt, n, &gp, out, &got) == RT_OK) {
        char text[SAMPLE_BYTES + 1];
        int k = decode_bytes(NULL, out, got, text, SAMPLE_BYTES);
        text[k] = '\0';
        printf("sample (temperature 0.7, top-p 0.9):\n%s%s\n", prompt_text, text);
    }
    free(prompt);
}

int rt_cmd_pretrain(int argc, char **argv) {
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? RT_EXIT_OK : rc;
    if (o.threads > 0) rt_set_threads((int)o.threads);
    text_data data;
    char *text = NULL;
    size_t len = 0;
    if (o.text_path) {
        if (rt_file_read(o.text_path, &text, &len) != RT_OK) return rt_cli_fail("pretrain");
    } else {
        text = rt_builtin_corpus(1, BUILTIN_CORPUS_BYTES);
        len = strlen(text);
    }
    if (len < (size_t)o.seq + 2) {
        free(text);
        return rt_cli_usage_error("pretrain", "%s: %zu bytes is shorter than one sequence (%lld)",
                                  o.text_path ? o.text_path : "text", len, o.seq + 2);
    }
    data.text = (const unsigned char *)text;
    data.len = len;

    rt_model_config cfg = {.arch = RT_ARCH_LLAMA, .hidden_size = (int)o.hidden, .intermediate_size = (int)o.intermediate,
                           .n_layers = (int)o.layers, .n_heads = (int)o.heads, .n_kv_heads = (int)o.kv_heads,
                           .head_dim = (int)(o.hidden / o.heads), .vocab_size = BYTE_VOCAB,
                           .max_position_embeddings = (int)(o.seq > 512 ? o.seq : 512), .rms_norm_eps = 1e-5f,
                           .rope = {.kind = RT_ROPE_DEFAULT, .theta = 10000.0}, .tie_word_embeddings = 1,
                           .bos_token_id = BYTE_BOS, .eos_token_id = BYTE_EOS};
    rt_model *m = NULL;
    char *model_dir = rt_path_join(o.out_dir, "model"), *ckpt = rt_path_join(o.out_dir, "checkpoint.safetensors");
    char *log_path = rt_path_join(o.out_dir, "loss.jsonl");
    rt_status s = rt_mkdir_p(o.out_dir);
    if (s == RT_OK && o.hidden % o.heads) s = rt_fail(RT_ERR_ARG, "--hidden must be a multiple of --heads");
    if (s == RT_OK) s = rt_model_new_random(&cfg, (uint64_t)o.seed, &m);
    if (s == RT_OK) s = rt_model_train_setup(m, 1);
    rt_train_params tp = rt_train_params_default();
    tp.steps = o.steps, tp.batch = (int)o.batch, tp.seq = (int)o.seq, tp.accum = 1;
    tp.adamw.lr = (float)o.lr, tp.adamw.weight_decay = 0.1f, tp.adamw.beta2 = 0.95f;
    tp.warmup_frac = 0.1f, tp.decay = RT_DECAY_COSINE, tp.min_lr_ratio = 0.1f, tp.clip = 1.0f;
    tp.seed = (uint64_t)o.seed, tp.log_every = (int)(o.steps >= 10 ? o.steps / 10 : 1);
    tp.ckpt_every = (int)o.ckpt_every, tp.ckpt_path = ckpt, tp.loss_log_path = log_path;
    tp.resume_path = o.resume ? ckpt : NULL;
    rt_train_result res;
    if (s == RT_OK) {
        rt_info("pretraining a %.2fM-parameter model on %zu bytes: %lld steps of %lld x %lld tokens, %d threads",
                (double)rt_model_param_count(m) / 1e6, len, o.steps, o.batch, o.seq, rt_threads());
        s = rt_train_run(m, &tp, next_window, &data, &res);
    }
    if (s == RT_OK) s = rt_model_save(m, model_dir);
    if (s == RT_OK) {
        printf("loss %.4f -> %.4f over %lld steps (%.0f tokens/s)\n", res.first_loss, res.last_loss,
               (long long)res.steps_done, res.tokens_per_s);
        printf("model saved to %s (loss log %s)\n", model_dir, log_path);
        m->training = 0;
        print_sample(m, o.sample, (int)o.seq);
    }
    rt_model_free(m);
    free(model_dir), free(ckpt), free(log_path), free(text);
    return s == RT_OK ? RT_EXIT_OK : rt_cli_fail("pretrain");
}
