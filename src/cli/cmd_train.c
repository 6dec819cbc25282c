/* cmd_train.c: `retrace train`: supervised fine-tuning (LoRA by default, or full) of a Hugging Face model
 * folder on prompt/completion JSON lines, with validation, checkpoints, resume and PEFT export. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_train_summary[] = "fine-tune a model (LoRA or full) on prompt/completion JSON lines";

typedef struct {
    const char *model, *data, *val, *tokenizer, *out, *adapter, *targets, *decay, *base_dtype, *dump;
    long long r, batch, accum, max_len, steps, seed, eval_every, ckpt_every;
    double alpha, dropout, lr, warmup, epochs, wd, clip;
    int full, rslora, resume, chat;
} options;

/* Below this hidden size the products are too small for bf16 to pay (and the built-in tiny models stay
 * exact float32). */
#define BF16_AUTO_MIN_HIDDEN 256

static void usage(void) {
    printf("usage: retrace train -m DIR --data FILE -o OUT [options]\n\n"
           "Fine-tunes MODEL (config.json + safetensors; tokenizer.json in it or --tokenizer) on JSON lines of\n"
           "TRL's row kinds: {\"prompt\", \"completion\"} (loss on the completion and EOS), {\"messages\": [{\"role\",\n"
           "\"content\"}, ...]} (the chat template's rendering, loss on the assistant turns) or {\"text\"} (loss on\n"
           "every token). Writes\n"
           "OUT/adapter (PEFT) or, with --full, OUT/model; OUT/checkpoint.safetensors; OUT/loss.jsonl.\n\n"
           "Defaults are the paper recipe: rsLoRA r 128, alpha 256, all seven projections, AdamW lr 1e-5,\n"
           "linear warmup over 10%% of the steps then linear decay. --preset tiny is for the built-in tiny\n"
           "models: rsLoRA r 16, alpha 32, lr 2e-3, cosine decay.\n\n"
           "options:\n"
           "  --val FILE            validation examples (loss every --eval-every steps and at the end)\n"
           "  --tokenizer DIR       tokenizer folder (default: the model folder)\n"
           "  --preset paper|tiny   hyperparameter preset (paper)\n"
           "  --full                train every parameter instead of LoRA\n"
           "  --dump-tokens FILE    write the tokenized examples ({\"input_ids\", \"mask\"} lines; mask 1 = a\n"
           "                        target) to FILE and stop: what the model would be trained on\n"
           "  --chat                put each prompt in a user message of the tokenizer's chat template\n"
           "                        (instruct models; what `retrace eval --chat` shows the model)\n"
           "  --adapter DIR         continue training an existing PEFT adapter\n"
           "  -r, --lora-r N --lora-alpha X --lora-dropout X --targets q,k,v,o,gate,up,down|all\n"
           "  --rslora / --no-rslora   scale alpha/sqrt(r) (default) or alpha/r\n"
           "  --epochs X (1) or --steps N; --batch N (4); --accum N (1); --max-len N (1024)\n"
           "  --lr X; --warmup FRACTION (0.1); --decay linear|cosine|constant; --weight-decay X (0);\n"
           "  --clip X (1.0); -s, --seed N (1); --eval-every N; --checkpoint-every N; --resume\n"
           "  Hugging Face's spellings work too: --dataset, --output_dir, --learning_rate, --num_train_epochs,\n"
           "  --max_steps, --lora_alpha\n"
           "  --base-dtype auto|bf16|f32   precision of the frozen base's products in LoRA training: bf16 rounds\n"
           "                        a copy of the base weights and runs them on AMX/AVX512-BF16 (oneDNN) with\n"
           "                        float32 sums; adapters, norms, attention, loss and AdamW stay float32. auto\n"
           "                        (default) is bf16 when the CPU has native bf16, the build has oneDNN and\n"
           "                        the hidden size is at least %d; f32 otherwise and always with --full\n"
           "Examples longer than --max-len lose the start of their prompt; ones whose completion alone does\n"
           "not fit are dropped. Both are counted and reported.\n", BF16_AUTO_MIN_HIDDEN);
}

/* The preset fills what the options left unset (r 0, alpha and lr NaN, decay NULL), so the order of
 * --preset and the options it covers does not matter. */
static void preset(options *o, const char *name) {
    int tiny = strcmp(name, "tiny") == 0;
    if (o->r == 0) o->r = tiny ? 16 : 128;
    if (isnan(o->alpha)) o->alpha = tiny ? 32 : 256;
    if (isnan(o->lr)) o->lr = tiny ? 2e-3 : 1e-5;
    if (!o->decay) o->decay = tiny ? "cosine" : "linear";
}

static int parse(int argc, char **argv, options *o) {
    *o = (options){.targets = "all", .batch = 4, .accum = 1, .max_len = 1024, .seed = 1, .dropout = 0.05,
                   .warmup = 0.1, .epochs = 1, .clip = 1.0, .rslora = 1, .base_dtype = "auto", .alpha = NAN, .lr = NAN};
    const char *preset_name = "paper";
    const rt_arg args[] = {
        RT_ARG_S("-m|--model", &o->model), RT_ARG_S("--data|--dataset", &o->data), RT_ARG_S("--val", &o->val),
        RT_ARG_S("--tokenizer", &o->tokenizer), RT_ARG_S("-o|--output|--output-dir|--output_dir", &o->out),
        RT_ARG_S("--adapter|--lora", &o->adapter), RT_ARG_S("--targets", &o->targets), RT_ARG_S("--decay", &o->decay),
        RT_ARG_S("--base-dtype", &o->base_dtype), RT_ARG_S("--preset", &preset_name), RT_ARG_S("--dump-tokens", &o->dump),
        RT_ARG_B("--full", &o->full, 1), RT_ARG_B("--chat", &o->chat, 1), RT_ARG_B("--rslora", &o->rslora, 1),
        RT_ARG_B("--no-rslora", &o->rslora, 0), RT_ARG_B("--resume", &o->resume, 1),
        RT_ARG_I("-r|--lora-r", &o->r, 1, 1e18), RT_ARG_I("--batch", &o->batch, 1, 1e18),
        RT_ARG_I("--accum", &o->accum, 1, 1e18), RT_ARG_I("--max-len", &o->max_len, 0, 1e18),
        RT_ARG_I("--steps|--max-steps|--max_steps", &o->steps, 0, 1e18), RT_ARG_I("-s|--seed", &o->seed, 0, 1e18),
        RT_ARG_I("--eval-every", &o->eval_every, 0, 1e18), RT_ARG_I("--checkpoint-every", &o->ckpt_every, 0, 1e18),
        RT_ARG_F("--lora-alpha|--lora_alpha", &o->alpha, 0, 1e18), RT_ARG_F("--lora-dropout", &o->dropout, 0, 0.999999),
        RT_ARG_F("--lr|--learning-rate|--learning_rate", &o->lr, 0, 1e18), RT_ARG_F("--warmup", &o->warmup, 0, 1),
        RT_ARG_F("--epochs|--num-train-epochs|--num_train_epochs", &o->epochs, 0, 1e18),
        RT_ARG_F("--weight-decay", &o->wd, 0, 1e18), RT_ARG_F("--clip", &o->clip, 0, 1e18), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"train", usage, args, 0, 0, 1};
    int rc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return rc;
    if (strcmp(preset_name, "paper") && strcmp(preset_name, "tiny"))
        return rt_cli_usage_error("train", "--preset must be paper or tiny (got '%s')", preset_name);
    preset(o, preset_name);
    if (o->dump && o->data && (o->model || o->tokenizer)) return 0;
    if (!o->model || !o->data || !o->out) return rt_cli_usage_error("train", "--model, --data and -o are required");
    if (strcmp(o->decay, "linear") && strcmp(o->decay, "cosine") && strcmp(o->decay, "constant"))
        return rt_cli_usage_error("train", "--decay must be linear, cosine or constant");
    if (strcmp(o->base_dtype, "auto") && strcmp(o->base_dtype, "bf16") && strcmp(o->base_dtype, "f32"))
        return rt_cli_usage_error("train", "--base-dtype must be auto, bf16 or f32 (got '%s')", o->base_dtype);
    if (o->full && !strcmp(o->base_dtype, "bf16"))
        return rt_cli_usage_error("train", "--base-dtype bf16 is for LoRA training; --full trains the base in float32");
    return 0;
}

typedef struct {
    const rt_sft_data *val;
    int batch;
} val_ctx;

static rt_status eval_val(void *ctx, rt_model *m, float *loss) {
    const val_ctx *v = ctx;
    return rt_sft_eval_loss(v->val, m, v->batch, loss);
}

static void report_stats(const char *what, const rt_sft_stats *s, long long max_len) {
    rt_info("%s: %zu examples, %zu tokens (%zu targets)", what, s->kept, s->tokens, s->target_tokens);
    if (s->truncated) rt_warn("%s: %zu examples longer than %lld tokens lost the start of their prompt", what, s->truncated, max_len);
    if (s->dropped) rt_warn("%s: %zu examples dropped: their completion alone exceeds %lld tokens", what, s->dropped, max_len);
}

/* Model and adapter set up for training as the options say. */
static rt_status setup_model(const options *o, rt_model **out) {
    rt_model *m;
    RT_TRY(rt_model_load(o->model, &m));
    rt_status s = RT_OK;
    if (!o->full) {
        if (o->adapter) {
            s = rt_cli_load_adapter("train", m, o->model, o->adapter);
        } else {
            rt_lora_config lc = {.r = (int)o->r, .alpha = (float)o->alpha, .rslora = o->rslora, .dropout = (float)o->dropout};
            s = rt_proj_mask_parse(o->targets, &lc.proj_mask);
            if (s == RT_OK) s = rt_lora_attach(m, &lc, (uint64_t)o->seed);
        }
    }
    if (s == RT_OK) s = rt_model_train_setup(m, o->full);
    if (s == RT_OK && !o->full) {
        int bf16 = !strcmp(o->base_dtype, "bf16") ||
                   (!strcmp(o->base_dtype, "auto") && rt_bf16_native() && m->cfg.hidden_size >= BF16_AUTO_MIN_HIDDEN);
        s = rt_model_set_base_dtype(m, bf16 ? RT_BASE_BF16 : RT_BASE_F32);
    }
    if (s != RT_OK) {
        rt_model_free(m);
        return s;
    }
    *out = m;
    return RT_OK;
}

static rt_status save_outputs(const options *o, rt_model *m) {
    char *dir = rt_path_join(o->out, o->full ? "model" : "adapter");
    rt_status s = o->full ? rt_model_save(m, dir) : rt_lora_save_peft(m, dir, o->model);
    if (s == RT_OK) printf("saved %s\n", dir);
    free(dir);
    return s;
}

/* --dump-tokens: every kept example's ids and target mask, one JSON object per line. */
static rt_status dump_tokens(const rt_sft_data *d, const char *path) {
    rt_atomic_file f;
    RT_TRY(rt_atomic_open(&f, path));
    rt_status s = RT_OK;
    for (size_t i = 0; i < rt_sft_count(d) && s == RT_OK; i++) {
        const int32_t *ids, *mask;
        int len;
        rt_sft_example(d, i, &ids, &mask, &len);
        json_t *o = json_object(), *ji = json_array(), *jm = json_array();
        for (int k = 0; k < len; k++) json_array_append_new(ji, json_integer(ids[k])), json_array_append_new(jm, json_integer(mask[k]));
        json_object_set_new(o, "input_ids", ji);
        json_object_set_new(o, "mask", jm);
        char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        s = rt_atomic_write(&f, line, strlen(line));
        if (s == RT_OK) s = rt_atomic_write(&f, "\n", 1);
        free(line);
        json_decref(o);
    }
    if (s == RT_OK) return rt_atomic_commit(&f);
    rt_atomic_abort(&f);
    return s;
}

int rt_cmd_train(int argc, char **argv) {
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return RT_ARGS_EXIT(rc);
    rt_tokenizer *tok = NULL;
    rt_sft_data *train = NULL, *val = NULL;
    rt_model *m = NULL;
    rt_sft_stats st;
    rt_sft_params sp = rt_sft_params_default();
    sp.max_len = (int)o.max_len, sp.chat = o.chat;
    rt_status s = rt_tokenizer_load(o.tokenizer ? o.tokenizer : o.model, &tok);
    if (s == RT_OK) s = rt_sft_load(o.data, tok, &sp, &train, &st);
    if (s == RT_OK) report_stats(o.data, &st, o.max_len);
    if (s == RT_OK && o.dump) {
        if ((s = dump_tokens(train, o.dump)) == RT_OK) printf("wrote %zu tokenized examples to %s\n", rt_sft_count(train), o.dump);
        goto done;
    }
    if (s == RT_OK && o.val && (s = rt_sft_load(o.val, tok, &sp, &val, &st)) == RT_OK) report_stats(o.val, &st, o.max_len);
    if (s == RT_OK) s = setup_model(&o, &m);
    if (s == RT_OK && rt_tokenizer_vocab_size(tok) > m->cfg.vocab_size)
        s = rt_fail(RT_ERR_ARG, "the tokenizer has %d ids but the model's vocabulary is %d: wrong tokenizer for %s",
                    rt_tokenizer_vocab_size(tok), m->cfg.vocab_size, o.model);
    if (s == RT_OK) s = rt_mkdir_p(o.out);
    if (s != RT_OK) goto done;

    int64_t per_step = o.batch * o.accum;
    int64_t steps = o.steps ? o.steps : (int64_t)ceil(o.epochs * (double)rt_sft_count(train) / (double)per_step);
    if (steps < 1) steps = 1;
    rt_sft_sampler sampler;
    rt_sft_sampler_init(&sampler, train, (uint64_t)o.seed);
    val_ctx vc = {val, (int)o.batch};
    char *ckpt = rt_path_join(o.out, "checkpoint.safetensors"), *log = rt_path_join(o.out, "loss.jsonl");
    rt_train_params tp = rt_train_params_default();
    tp.steps = steps, tp.batch = (int)o.batch, tp.seq = (int)o.max_len, tp.accum = (int)o.accum;
    tp.adamw.lr = (float)o.lr, tp.adamw.weight_decay = (float)o.wd;
    tp.warmup_frac = (float)o.warmup, tp.clip = (float)o.clip, tp.seed = (uint64_t)o.seed;
    tp.decay = !strcmp(o.decay, "cosine") ? RT_DECAY_COSINE : !strcmp(o.decay, "constant") ? RT_DECAY_CONSTANT : RT_DECAY_LINEAR;
    tp.log_every = (int)(steps >= 20 ? steps / 20 : 1);
    tp.ckpt_every = (int)o.ckpt_every, tp.ckpt_path = ckpt, tp.loss_log_path = log;
    tp.resume_path = o.resume ? ckpt : NULL;
    if (val) tp.eval = eval_val, tp.eval_ctx = &vc, tp.eval_every = (int)o.eval_every;
    rt_info("training %s of %s: %lld steps of %lld x %lld examples, lr %g, %d threads, %s base",
            o.full ? "every parameter" : "LoRA adapters", o.model, (long long)steps, o.batch, o.accum, o.lr, rt_threads(),
            rt_base_dtype_name(m->base_dtype));
    rt_train_result res;
    s = rt_train_run(m, &tp, rt_sft_next_batch, &sampler, &res);
    if (s == RT_OK) {
        printf("loss %.4f -> %.4f over %lld steps (%.0f tokens/s)", res.first_loss, res.last_loss,
               (long long)res.steps_done, res.tokens_per_s);
        if (!isnan(res.val_loss)) printf(", validation loss %.4f", res.val_loss);
        printf("\n");
        s = save_outputs(&o, m);
    }
    rt_sft_sampler_free(&sampler);
    free(ckpt), free(log);
done:
    rt_model_free(m);
    rt_sft_free(train);
    rt_sft_free(val);
    rt_tokenizer_free(tok);
    return s == RT_OK ? RT_EXIT_OK : rt_cli_fail("train");
}
