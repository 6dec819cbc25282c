/* cmd_pretrain.c: `retrace pretrain` trains a small Llama-style model from scratch (every parameter) on
 * a text: it trains a byte-level BPE tokenizer on the text (or takes one), tokenizes the text into one
 * stream, trains on random windows of it (the corpus and windows are src/dataset/corpus.c) with
 * checkpoints and resume, and saves a complete Hugging Face folder (config, weights, tokenizer) that
 * `retrace train`, `retrace generate` and transformers load. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_pretrain_summary[] = "train a small model and its BPE tokenizer from scratch on a text";

#define BUILTIN_CORPUS_BYTES (400 * 1024)
#define SAMPLE_TOKENS 160

static void usage(void) {
    printf("usage: retrace pretrain [options] -o DIR\n\n"
           "Trains a small decoder from scratch on --text (default: a built-in corpus of generated agent\n"
           "episodes). Unless --tokenizer is given, first trains a byte-level BPE tokenizer on the text (ChatML\n"
           "chat template, <|im_end|> as EOS). Saves DIR/model (config.json, model.safetensors, tokenizer.json,\n"
           "tokenizer_config.json: a folder transformers loads), DIR/checkpoint.safetensors, DIR/loss.jsonl,\n"
           "and prints a sample.\n\n"
           "options:\n"
           "  --text FILE        training text (UTF-8)\n"
           "  --episodes FILE    train on episodes (JSON lines) rendered as the agent's prompts show them; every\n"
           "                     window starts where an episode starts, so the task line is in view\n"
           "  --tokenizer DIR    use this tokenizer instead of training one\n"
           "  --vocab N          size of the trained tokenizer (1024)\n"
           "  --steps N          optimizer steps (300)\n"
           "  --batch N          sequences per step (8)\n"
           "  --seq N            tokens per sequence (128); the sample stays within it\n"
           "  --lr X             peak learning rate (3e-3), linear warmup 10%%, cosine decay to 10%%\n"
           "  --hidden N         hidden size (128); --layers N (4); --heads N (4); --kv-heads N (2)\n"
           "  --intermediate N   MLP size (352)\n"
           "  -s, --seed N       initialisation and data order (1)\n"
           "  --checkpoint-every N  steps between checkpoints (50)\n"
           "  --resume           continue from DIR/checkpoint.safetensors (same text and tokenizer)\n"
           "  --sample TEXT      prompt for the sample at the end (\"task: put a hot\")\n");
}

typedef struct {
    const char *text_path, *episodes_path, *out_dir, *sample, *tokenizer;
    long long steps, batch, seq, hidden, layers, heads, kv_heads, intermediate, seed, ckpt_every, vocab;
    double lr;
    int resume;
} options;

static int parse(int argc, char **argv, options *o) {
    *o = (options){.sample = "task: put a hot", .steps = 300, .batch = 8, .seq = 128, .hidden = 128, .layers = 4,
                   .heads = 4, .kv_heads = 2, .intermediate = 352, .seed = 1, .ckpt_every = 50, .lr = 3e-3,
                   .vocab = 1024};
    const rt_arg args[] = {
        RT_ARG_I("--steps", &o->steps, 1, 1e18), RT_ARG_I("--batch", &o->batch, 1, 1e18), RT_ARG_I("--seq", &o->seq, 2, 1e18),
        RT_ARG_I("--hidden", &o->hidden, 2, 1e18), RT_ARG_I("--layers", &o->layers, 1, 1e18),
        RT_ARG_I("--heads", &o->heads, 1, 1e18), RT_ARG_I("--kv-heads", &o->kv_heads, 1, 1e18),
        RT_ARG_I("--intermediate", &o->intermediate, 1, 1e18), RT_ARG_I("-s|--seed", &o->seed, 0, 1e18),
        RT_ARG_I("--checkpoint-every", &o->ckpt_every, 0, 1e18), RT_ARG_I("--vocab", &o->vocab, 300, 1e18),
        RT_ARG_F("--lr", &o->lr, 0, 1e9), RT_ARG_S("--text", &o->text_path), RT_ARG_S("--episodes", &o->episodes_path),
        RT_ARG_S("--tokenizer", &o->tokenizer), RT_ARG_S("--sample", &o->sample), RT_ARG_S("-o|--output", &o->out_dir),
        RT_ARG_B("--resume", &o->resume, 1), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"pretrain", usage, args, 0, 0, 1};
    int rc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc;
    if (!o->out_dir) return rt_cli_usage_error("pretrain", "missing -o DIR");
    if (o->text_path && o->episodes_path) return rt_cli_usage_error("pretrain", "give --text or --episodes, not both");
    if (o->hidden % o->heads || o->heads % o->kv_heads || (o->hidden / o->heads) % 2)
        return rt_cli_usage_error("pretrain", "--hidden / --heads must be an even integer and --heads a multiple of --kv-heads");
    return 0;
}

static void print_sample(rt_model *m, const rt_tokenizer *tok, const char *prompt_text, int seq) {
    rt_tok_ids ids = {0};
    rt_tokenizer_encode(tok, prompt_text, strlen(prompt_text), 0, &ids);
    /* Positions past the training length were never seen: rotary embeddings do not extrapolate. */
    int budget = seq - (int)ids.n < SAMPLE_TOKENS ? seq - (int)ids.n : SAMPLE_TOKENS;
    if (ids.n > 0 && budget > 0) {
        static const char *const stops[] = {"\n\n", NULL};
        rt_gen_params gp = rt_gen_params_default();
        gp.max_new_tokens = budget, gp.temperature = 0.7f, gp.top_p = 0.9f, gp.seed = 7;
        gp.eos_token_id = rt_tokenizer_eos_id(tok), gp.vocab_limit = rt_tokenizer_vocab_size(tok);
        gp.stop_strings = stops, gp.decode = rt_tokenizer_gen_decode, gp.decode_ctx = (void *)tok;
        int32_t out[SAMPLE_TOKENS];
        int got = 0;
        char *text = NULL;
        size_t len;
        if (rt_generate(m, ids.ids, (int)ids.n, &gp, out, &got) == RT_OK &&
            rt_tokenizer_decode(tok, out, (size_t)got, 1, &text, &len) == RT_OK)
            printf("sample (temperature 0.7, top-p 0.9):\n%s%s\n", prompt_text, text);
        free(text);
    }
    rt_tok_ids_free(&ids);
}

/* Copies tokenizer.json and tokenizer_config.json (when present) from one folder to another. */
static rt_status copy_tokenizer(const char *from, const char *to) {
    static const char *const files[] = {"tokenizer.json", "tokenizer_config.json"};
    int from_is_dir = rt_is_dir(from);
    for (int i = 0; i < 2; i++) {
        char *src = from_is_dir ? rt_path_join(from, files[i]) : (i == 0 ? rt_strdup(from) : NULL);
        char *dst = rt_path_join(to, files[i]), *data = NULL;
        size_t len = 0;
        rt_status s = RT_OK;
        if (src && rt_path_exists(src)) {
            s = rt_file_read(src, &data, &len);
            if (s == RT_OK) s = rt_file_write_atomic(dst, data, len);
        }
        free(src), free(dst), free(data);
        RT_TRY(s);
    }
    return RT_OK;
}

/* The tokenizer: the given one, or one trained on the text and written to DIR/model. */
static rt_status get_tokenizer(const options *o, const char *text_file, const char *model_dir, rt_tokenizer **tok) {
    if (o->tokenizer) {
        RT_TRY(rt_tokenizer_load(o->tokenizer, tok));
        return copy_tokenizer(o->tokenizer, model_dir);
    }
    char *tok_json = rt_path_join(model_dir, "tokenizer.json");
    int have = o->resume && rt_path_exists(tok_json);
    free(tok_json);
    if (!have) { /* a resumed run keeps the tokenizer it started with */
        static const char *specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
        rt_bpe_train_params bp = rt_bpe_train_params_default();
        bp.vocab_size = (int32_t)o->vocab;
        bp.special_tokens = specials, bp.n_special = 3, bp.eos_token = "<|im_end|>";
        bp.chat_template = rt_chat_template_text("chatml");
        rt_info("training a %lld-token BPE tokenizer on %s", o->vocab, text_file);
        RT_TRY(rt_bpe_train(&text_file, 1, &bp, model_dir));
    }
    return rt_tokenizer_load(model_dir, tok);
}

/* The options that fix a run's shape, kept in DIR/pretrain_args.json: a resumed run must repeat them (a
 * changed --seq or --batch would silently change what a step means; a changed model shape cannot load). */
static rt_status check_run_shape(const options *o, const char *path) {
    const struct {
        const char *name;
        long long v;
    } shape[] = {{"--seq", o->seq},     {"--batch", o->batch},       {"--hidden", o->hidden},
                 {"--layers", o->layers}, {"--heads", o->heads},   {"--kv-heads", o->kv_heads},
                 {"--intermediate", o->intermediate}, {"--vocab", o->vocab}};
    const size_t n = sizeof shape / sizeof *shape;
    json_t *root = NULL;
    rt_status s = RT_OK;
    if (!o->resume) {
        root = json_object();
        for (size_t i = 0; i < n; i++) json_object_set_new(root, shape[i].name + 2, json_integer(shape[i].v));
        s = rt_json_save(path, root);
    } else if (rt_path_exists(path) && (s = rt_json_load(path, &root)) == RT_OK) {
        for (size_t i = 0; i < n && s == RT_OK; i++) {
            int64_t was;
            s = rt_json_get_int(root, shape[i].name + 2, path, &was);
            if (s == RT_OK && was != shape[i].v)
                s = rt_fail(RT_ERR_ARG, "%s was %lld when the run started and is %lld now: a resumed run keeps its "
                            "shape (%s)", shape[i].name, (long long)was, shape[i].v, path);
        }
    }
    json_decref(root);
    return s;
}

int rt_cmd_pretrain(int argc, char **argv) {
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return RT_ARGS_EXIT(rc);
    char *model_dir = rt_path_join(o.out_dir, "model"), *ckpt = rt_path_join(o.out_dir, "checkpoint.safetensors");
    char *log_path = rt_path_join(o.out_dir, "loss.jsonl"), *corpus_path = rt_path_join(o.out_dir, "corpus.txt");
    char *text = NULL;
    size_t len = 0;
    rt_tokenizer *tok = NULL;
    rt_model *m = NULL;
    rt_windows data = {0};
    size_t *offsets = NULL, n_eps = 0;
    rt_status s = rt_mkdir_p(model_dir);
    char *args_path = rt_path_join(o.out_dir, "pretrain_args.json");
    if (s == RT_OK) s = check_run_shape(&o, args_path);
    free(args_path);
    const char *text_file = o.text_path ? o.text_path : corpus_path;
    if (s == RT_OK && o.text_path) s = rt_file_read(o.text_path, &text, &len);
    if (s == RT_OK && o.episodes_path) s = rt_corpus_render_episodes(o.episodes_path, &text, &len, &offsets, &n_eps);
    if (s == RT_OK && !o.text_path && !o.episodes_path) {
        text = rt_builtin_corpus(1, BUILTIN_CORPUS_BYTES);
        len = strlen(text);
    }
    if (s == RT_OK && !o.text_path) s = rt_file_write_atomic(corpus_path, text, len);
    if (s == RT_OK) s = get_tokenizer(&o, text_file, model_dir, &tok);
    if (s == RT_OK) s = rt_windows_init(&data, tok, text, len, offsets, n_eps, (int)o.seq);
    if (s == RT_OK && offsets && data.n_starts == 0)
        s = rt_fail(RT_ERR_ARG, "%s: %zu tokens in %zu episodes is shorter than one sequence of %lld", o.episodes_path,
                    data.stream.n, n_eps, o.seq + 1);
    if (s == RT_OK && data.stream.n < (size_t)o.seq + 2)
        s = rt_fail(RT_ERR_ARG, "%s: %zu tokens is shorter than one sequence of %lld", text_file, data.stream.n, o.seq + 1);
    rt_model_config cfg = {.arch = RT_ARCH_LLAMA, .hidden_size = (int)o.hidden, .intermediate_size = (int)o.intermediate,
                           .n_layers = (int)o.layers, .n_heads = (int)o.heads, .n_kv_heads = (int)o.kv_heads,
                           .head_dim = (int)(o.hidden / o.heads), .max_position_embeddings = (int)(o.seq > 512 ? o.seq : 512),
                           .rms_norm_eps = 1e-5f, .rope = {.kind = RT_ROPE_DEFAULT, .theta = 10000.0},
                           .tie_word_embeddings = 1, .bos_token_id = -1, .eos_token_id = -1};
    if (s == RT_OK) {
        cfg.vocab_size = rt_tokenizer_vocab_size(tok);
        cfg.bos_token_id = rt_tokenizer_bos_id(tok);
        cfg.eos_token_id = rt_tokenizer_eos_id(tok);
        s = rt_model_new_random(&cfg, (uint64_t)o.seed, &m);
    }
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
        rt_info("pretraining a %.2fM-parameter model on %zu tokens (%zu bytes, vocabulary %d): %lld steps of %lld x %lld "
                "tokens, %d threads",
                (double)rt_model_param_count(m) / 1e6, data.stream.n, len, cfg.vocab_size, o.steps, o.batch, o.seq, rt_threads());
        if (data.starts)
            rt_info("windows start at episode starts (%zu of %zu episodes leave room for a full window)", data.n_starts, n_eps);
        s = rt_train_run(m, &tp, rt_windows_next, &data, &res);
    }
    if (s == RT_OK) s = rt_model_save(m, model_dir);
    if (s == RT_OK) {
        printf("loss %.4f -> %.4f over %lld steps (%.0f tokens/s)\n", res.first_loss, res.last_loss,
               (long long)res.steps_done, res.tokens_per_s);
        printf("model saved to %s (loss log %s)\n", model_dir, log_path);
        m->training = 0;
        print_sample(m, tok, o.sample, (int)o.seq);
    }
    rt_windows_free(&data);
    rt_tokenizer_free(tok);
    rt_model_free(m);
    free(model_dir), free(ckpt), free(log_path), free(corpus_path), free(text), free(offsets);
    return s == RT_OK ? RT_EXIT_OK : rt_cli_fail("pretrain");
}
