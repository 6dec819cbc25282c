/* cmd_generate.c: `retrace generate` continues a prompt with a model (and adapter), using the model's
 * tokenizer and, with --chat, its chat template. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_generate_summary[] = "generate text from a prompt with a model and optional adapter";

#define MAX_STOPS 8

static void usage(void) {
    printf("usage: retrace generate --model DIR [--adapter DIR] [--tokenizer DIR] [--prompt TEXT | < prompt.txt]\n\n"
           "Prints the model's continuation of the prompt (read from stdin without --prompt).\n\n"
           "  --chat               wrap the prompt as a user message in the tokenizer's chat template\n"
           "  --max-new N          tokens to generate at most (128)\n"
           "  --temperature X      0 = greedy (default), else sample\n"
           "  --top-p X            nucleus sampling mass (1 = off)\n"
           "  --seed N             sampling seed (0)\n"
           "  --stop TEXT          stop once the continuation contains TEXT (repeatable)\n");
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

int rt_cmd_generate(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *tokdir = NULL, *prompt = NULL, *stops[MAX_STOPS + 1] = {0};
    int chat = 0, n_stops = 0;
    long long max_new = 128, seed = 0;
    double temperature = 0.0, top_p = 1.0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (rt_cli_is_help(a)) return usage(), RT_EXIT_OK;
        if (!strcmp(a, "--chat")) { chat = 1; continue; }
        if (!v) return rt_cli_usage_error("generate", "'%s' needs a value (see --help)", a);
        i++;
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--adapter")) adapter = v;
        else if (!strcmp(a, "--tokenizer")) tokdir = v;
        else if (!strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "--stop")) {
            if (n_stops == MAX_STOPS) return rt_cli_usage_error("generate", "at most %d --stop strings", MAX_STOPS);
            stops[n_stops++] = v;
        } else if (!strcmp(a, "--max-new")) { if (rt_cli_parse_int("generate", a, v, &max_new)) return RT_EXIT_USAGE; }
        else if (!strcmp(a, "--seed")) { if (rt_cli_parse_int("generate", a, v, &seed)) return RT_EXIT_USAGE; }
        else if (!strcmp(a, "--temperature")) { if (rt_cli_parse_float("generate", a, v, &temperature)) return RT_EXIT_USAGE; }
        else if (!strcmp(a, "--top-p")) { if (rt_cli_parse_float("generate", a, v, &top_p)) return RT_EXIT_USAGE; }
        else return rt_cli_usage_error("generate", "unknown option '%s'", a);
    }
    if (!model) return rt_cli_usage_error("generate", "--model is required");
    if (max_new < 1 || temperature < 0 || top_p <= 0 || top_p > 1)
        return rt_cli_usage_error("generate", "--max-new must be positive, --temperature >= 0, --top-p in (0, 1]");
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
    if (s == RT_OK) {
        rt_gen_params gp = rt_gen_params_default();
        gp.max_new_tokens = (int)max_new, gp.temperature = (float)temperature, gp.top_p = (float)top_p;
        gp.seed = (uint64_t)seed, gp.eos_token_id = rt_tokenizer_eos_id(tok);
        gp.vocab_limit = rt_tokenizer_vocab_size(tok);
        gp.stop_strings = n_stops ? stops : NULL, gp.decode = rt_tokenizer_gen_decode, gp.decode_ctx = tok;
        out = rt_malloc(sizeof(int32_t) * (size_t)max_new);
        s = rt_generate(m, ids.ids, (int)ids.n, &gp, out, &n_out);
    }
    if (s == RT_OK) {
        char *text;
        size_t len;
        s = rt_tokenizer_decode(tok, out, (size_t)n_out, 1, &text, &len);
        if (s == RT_OK) {
            fwrite(text, 1, len, stdout);
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
