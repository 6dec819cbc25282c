/* cmd_tokenizer_train.c: `retrace tokenizer-train`: learn a byte-level BPE tokenizer from text files
 * and write it as a Hugging Face tokenizer folder. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_tokenizer_train_summary[] = "train a byte-level BPE tokenizer (tokenizer.json) on text files";

static void usage(void) {
    printf("usage: retrace tokenizer-train --vocab N [--min-frequency N] [--special TOKEN]... [--bos TOKEN]\n"
           "                               [--eos TOKEN] [--chat-template chatml] -o DIR CORPUS...\n\n"
           "Learns a GPT-2 style byte-level BPE (Llama 3 split regex) on the UTF-8 corpus files and writes\n"
           "DIR/tokenizer.json and DIR/tokenizer_config.json, which the `tokenizers` library loads.\n\n"
           "  --vocab N            total vocabulary: 256 byte tokens + special tokens + merges\n"
           "  --min-frequency N    stop when the most frequent pair is rarer than this (default 2)\n"
           "  --special TOKEN      a special token (ids 0, 1, ... in the order given); repeatable\n"
           "  --bos, --eos TOKEN   the BOS/EOS for tokenizer_config.json (added as special if new)\n"
           "  --chat-template chatml  write the ChatML chat template (adds <|im_start|> and <|im_end|> as\n"
           "                       special tokens; <|im_end|> is the EOS unless --eos says otherwise)\n"
           "  -o DIR               output folder (created)\n");
}

/* The special tokens gathered from --special, --bos and --eos, each once, in order. */
typedef struct {
    rt_bpe_train_params *p;
    const char **specials;
} specials_ctx;

static void add_special(specials_ctx *c, const char *tok) {
    size_t k = 0;
    while (k < c->p->n_special && strcmp(c->specials[k], tok) != 0) k++;
    if (k == c->p->n_special) c->specials[c->p->n_special++] = tok;
}

static int opt_special(void *ctx, const char *v) { return add_special(ctx, v), 0; }
static int opt_bos(void *ctx, const char *v) { return add_special(ctx, v), ((specials_ctx *)ctx)->p->bos_token = v, 0; }
static int opt_eos(void *ctx, const char *v) { return add_special(ctx, v), ((specials_ctx *)ctx)->p->eos_token = v, 0; }
static int opt_template(void *ctx, const char *v) {
    ((rt_bpe_train_params *)ctx)->chat_template = rt_chat_template_text(v);
    if (!((rt_bpe_train_params *)ctx)->chat_template) return rt_fail(RT_ERR_ARG, "'%s' is not a family retrace writes (chatml)", v);
    return 0;
}

int rt_cmd_tokenizer_train(int argc, char **argv) {
    const char *cmd = "tokenizer-train", *out = NULL;
    rt_bpe_train_params p = rt_bpe_train_params_default();
    const char **specials = calloc((size_t)argc + 4, sizeof *specials);
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    specials_ctx sc = {&p, specials};
    int n_files = 0, vocab = 0;
    const rt_arg args[] = {RT_ARG_I32("--vocab|--vocab-size", &vocab, 256, 1 << 24),
                           RT_ARG_I32("--min-frequency", &p.min_frequency, 1, 2e9),
                           RT_ARG_CALL("--special", opt_special, &sc), RT_ARG_CALL("--bos", opt_bos, &sc),
                           RT_ARG_CALL("--eos", opt_eos, &sc), RT_ARG_CALL("--chat-template", opt_template, &p),
                           RT_ARG_S("-o|--output", &out), RT_ARG_TABLE_END};
    const rt_args_spec spec = {cmd, usage, args, 0, argc, 0};
    int rc = rt_args_parse(&spec, argc, argv, files, &n_files);
    if (rc == RT_ARGS_HELP) {
        free(specials), free(files);
        return RT_EXIT_OK;
    }
    p.vocab_size = vocab;
    if (rc == RT_EXIT_OK && p.chat_template) {
        /* The ChatML markers must be single special tokens for the template to mean anything. */
        static const char *const MARKERS[] = {"<|im_start|>", "<|im_end|>"};
        for (int m = 0; m < 2; m++) {
            size_t k = 0;
            while (k < p.n_special && strcmp(specials[k], MARKERS[m]) != 0) k++;
            if (k == p.n_special) specials[p.n_special++] = MARKERS[m];
        }
        if (!p.eos_token) p.eos_token = "<|im_end|>";
    }
    if (rc == RT_EXIT_OK && !vocab) rc = rt_cli_usage_error(cmd, "--vocab is required (see --help)");
    if (rc == RT_EXIT_OK && !out) rc = rt_cli_usage_error(cmd, "-o DIR is required (see --help)");
    if (rc == RT_EXIT_OK && n_files == 0) rc = rt_cli_usage_error(cmd, "no corpus files given (see --help)");
    p.special_tokens = specials;
    if (rc == RT_EXIT_OK && rt_bpe_train(files, (size_t)n_files, &p, out) != RT_OK) rc = rt_cli_fail(cmd);
    free(specials);
    free(files);
    return rc;
}
