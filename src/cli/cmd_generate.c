/* cmd_generate.c: `retrace generate` continues a prompt with a model (and adapter), using the model's
 * tokenizer and, with --chat, its chat template. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_generate_summary[] = "generate text from a prompt with a model and optional adapter";

#define MAX_STOPS 8

static void usage(void) {
    printf("usage: retrace generate -m DIR [--adapter DIR] [--tokenizer DIR] [-p TEXT | < prompt.txt]\n\n"
           "Prints the model's continuation of the prompt (read from stdin without --prompt).\n\n"
           "  -m, --model DIR          the model folder\n"
           "  --adapter, --lora DIR    a PEFT adapter on the model\n"
           "  --tokenizer DIR          default: the model folder\n"
           "  -p, --prompt TEXT        the prompt\n"
           "  --chat                   wrap the prompt as a user message in the tokenizer's chat template\n"
           "  -n, --max-new-tokens N   tokens to generate at most (128; also --max-new, --n-predict)\n"
           "  --temp, --temperature X  0 = greedy (default), else sample\n"
           "  --top-p X                nucleus sampling mass (1 = off)\n"
           "  --top-k K                sample among the K most likely tokens, before --top-p (0 = off)\n"
           "  -s, --seed N             sampling seed (0)\n"
           "  --stop, -r TEXT          stop once the continuation contains TEXT (repeatable, at most %d)\n"
           "  --dump-logits FILE       write the logits of every prompt position (safetensors: input_ids,\n"
           "                           logits) instead of generating\n",
           MAX_STOPS);
}

typedef struct {
    const char *stops[MAX_STOPS + 1];
    int n;
} stop_list;

static int add_stop(void *dst, const char *value) {
    stop_list *l = dst;
    if (l->n == MAX_STOPS) return rt_fail(RT_ERR_ARG, "at most %d stop strings", MAX_STOPS);
    l->stops[l->n++] = value;
    return 0;
}

/* Positions past max_position_embeddings were never trained (rotary embeddings do not extrapolate): a
 * prompt that fills them is refused, and the new tokens are cut to what is left, with a warning. */
static rt_status fit_positions(const rt_model *m, long long n_prompt, const char *model, long long *max_new) {
    long long limit = m->cfg.max_position_embeddings;
    if (limit <= 0) return RT_OK;
    if (n_prompt >= limit)
        return rt_fail(RT_ERR_ARG, "the prompt has %lld tokens but %s/config.json allows %lld positions "
                       "(max_position_embeddings)", n_prompt, model, limit);
    if (n_prompt + *max_new > limit) {
        rt_warn("the prompt (%lld tokens) and --max-new %lld exceed max_position_embeddings %lld of %s: generating "
                "at most %lld tokens", n_prompt, *max_new, limit, model, limit - n_prompt);
        *max_new = limit - n_prompt;
    }
    return RT_OK;
}

/* Streaming: rt_generate decodes the continuation after every token (to look for stop strings) through
 * rt_gen_params.decode; this decode hook also prints what is new since its last call, so text appears as it
 * is generated. Bytes that may still change are held back: an incomplete UTF-8 sequence at the end, and a
 * trailing U+FFFD (a byte-level token that is half of a character decodes to it until the other half). */
typedef struct {
    const rt_tokenizer *tok;
    size_t shown; /* bytes of the continuation already printed */
} stream_ctx;

static size_t stable_length(const char *text, size_t len) {
    size_t i = len, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)text[i - 1] & 0xC0) == 0x80) i--, back++;
    if (i > 0) {
        unsigned char lead = (unsigned char)text[i - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (need > back + 1) len = i - 1; /* the last character is not complete yet */
    }
    while (len >= 3 && memcmp(text + len - 3, "\xEF\xBF\xBD", 3) == 0) len -= 3;
    return len;
}

static int stream_decode(void *ctx, const int32_t *ids, int n, char *buf, int cap) {
    stream_ctx *c = ctx;
    char *text;
    size_t len;
    if (rt_tokenizer_decode(c->tok, ids, (size_t)n, 1, &text, &len) != RT_OK) return -1;
    size_t stable = stable_length(text, len);
    if (stable > c->shown) {
        fwrite(text + c->shown, 1, stable - c->shown, stdout);
        fflush(stdout);
        c->shown = stable;
    }
    int k = (int)(len < (size_t)cap ? len : (size_t)cap);
    memcpy(buf, text, (size_t)k);
    free(text);
    return k;
}

int rt_cmd_generate(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *tokdir = NULL, *prompt = NULL, *dump = NULL;
    stop_list stop = {{0}, 0};
    int chat = 0;
    long long max_new = 128, seed = 0;
    double temperature = 0.0, top_p = 1.0;
    long long top_k = 0;
    const rt_arg args[] = {
        RT_ARG_S("-m|--model", &model), RT_ARG_S("--adapter|--lora", &adapter), RT_ARG_S("--tokenizer", &tokdir),
        RT_ARG_S("-p|--prompt", &prompt), RT_ARG_B("--chat", &chat, 1),
        RT_ARG_I("-n|--max-new-tokens|--max-new|--n-predict", &max_new, 1, 1e9),
        RT_ARG_F("--temp|--temperature", &temperature, 0, 1e9), RT_ARG_F("--top-p", &top_p, 0, 1),
        RT_ARG_I("--top-k", &top_k, 0, 1 << 30),
        RT_ARG_I("-s|--seed", &seed, 0, 9e18), RT_ARG_CALL("--stop|-r|--reverse-prompt", add_stop, &stop),
        RT_ARG_S("--dump-logits", &dump),
        RT_ARG_TABLE_END};
    const rt_args_spec spec = {"generate", usage, args, 0, 0, 1};
    int rc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (rc) return RT_ARGS_EXIT(rc);
    if (!model) return rt_cli_usage_error("generate", "--model is required");
    if (top_p <= 0) return rt_cli_usage_error("generate", "--top-p must be in (0, 1]");
    char *input = NULL;
    if (!prompt) {
        size_t cap = 0, len = 0;
        char buf[4096];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, stdin)) > 0) {
            input = rt_realloc(input, (cap = len + got + 1));
            memcpy(input + len, buf, got);
            len += got;
            input[len] = '\0';
        }
        prompt = input ? input : "";
    }
    rt_tokenizer *tok = NULL;
    rt_model *m = NULL;
    char *rendered = NULL;
    rt_tok_ids ids = {0};
    int32_t *out = NULL;
    rt_status s = rt_tokenizer_load(tokdir ? tokdir : model, &tok);
    if (s == RT_OK) s = rt_model_load(model, &m);
    if (s == RT_OK && adapter) s = rt_cli_load_adapter("generate", m, model, adapter);
    if (s == RT_OK && chat) {
        rt_chat_message msg = {"user", prompt, NULL};
        s = rt_chat_render(tok, &msg, 1, 1, &rendered);
    }
    if (s == RT_OK) {
        const char *text = rendered ? rendered : prompt;
        /* A chat rendering already holds BOS; a plain prompt gets the tokenizer's special tokens. */
        s = rt_tokenizer_encode(tok, text, strlen(text), rendered ? 0 : RT_TOK_ADD_SPECIAL, &ids);
    }
    if (s == RT_OK && ids.n == 0) s = rt_fail(RT_ERR_ARG, "the prompt is empty");
    if (s == RT_OK) s = fit_positions(m, (long long)ids.n, model, &max_new);
    int n_out = 0;
    stream_ctx stream = {tok, 0};
    if (s == RT_OK && dump) {
        s = rt_cli_dump_logits(m, ids.ids, (int)ids.n, dump);
        if (s == RT_OK) printf("wrote %s (%d positions)\n", dump, (int)ids.n);
    } else if (s == RT_OK) {
        rt_gen_params gp = rt_gen_params_default();
        gp.max_new_tokens = (int)max_new, gp.temperature = (float)temperature, gp.top_p = (float)top_p;
        gp.top_k = (int)top_k;
        gp.seed = (uint64_t)seed, gp.eos_token_id = rt_tokenizer_eos_id(tok);
        gp.vocab_limit = rt_tokenizer_vocab_size(tok);
        /* An empty stop list still has rt_generate call the decode hook after every token. */
        gp.stop_strings = stop.stops, gp.decode = stream_decode, gp.decode_ctx = &stream;
        out = rt_malloc(sizeof(int32_t) * (size_t)max_new);
        s = rt_generate(m, ids.ids, (int)ids.n, &gp, out, &n_out);
    }
    if (s == RT_OK && !dump) {
        char *text;
        size_t len;
        s = rt_tokenizer_decode(tok, out, (size_t)n_out, 1, &text, &len);
        if (rt_log_get_level() <= RT_LOG_DEBUG) { /* --verbose: the ids, to check the text against */
            fprintf(stderr, "debug: generated ids:");
            for (int i = 0; i < n_out; i++) fprintf(stderr, " %d", (int)out[i]);
            fputc('\n', stderr);
        }
        if (s == RT_OK) { /* the rest: what was held back, or what the last token added */
            if (stream.shown <= len) fwrite(text + stream.shown, 1, len - stream.shown, stdout);
            fputc('\n', stdout);
            free(text);
        }
    }
    free(out), free(rendered), free(input);
    rt_tok_ids_free(&ids);
    rt_model_free(m);
    rt_tokenizer_free(tok);
    return s == RT_OK ? RT_EXIT_OK : rt_cli_fail("generate");
}
