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

int rt_cmd_tokenizer_train(int argc, char **argv) {
    const char *cmd = "tokenizer-train", *out = NULL;
    rt_bpe_train_params p = rt_bpe_train_params_default();
    const char **specials = calloc((size_t)argc + 4, sizeof *specials);
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t n_files = 0;
    long long v;
    int rc = RT_EXIT_OK, have_vocab = 0;
    for (int i = 1; i < argc && rc == RT_EXIT_OK; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (rt_cli_is_help(a)) {
            usage();
            free(specials);
            free(files);
            return RT_EXIT_OK;
        } else if (strcmp(a, "--vocab") == 0) {
            rc = rt_cli_parse_int(cmd, a, val, &v);
            if (rc == RT_EXIT_OK && (v < 256 || v > (1 << 24)))
                rc = rt_cli_usage_error(cmd, "--vocab must be 256..16777216");
            p.vocab_size = (int32_t)v;
            have_vocab = 1;
            i++;
        } else if (strcmp(a, "--min-frequency") == 0) {
            rc = rt_cli_parse_int(cmd, a, val, &v);
            if (rc == RT_EXIT_OK && v < 1) rc = rt_cli_usage_error(cmd, "--min-frequency must be at least 1");
            p.min_frequency = (int32_t)v;
            i++;
        } else if (strcmp(a, "--special") == 0 || strcmp(a, "--bos") == 0 || strcmp(a, "--eos") == 0) {
            if (!val) {
                rc = rt_cli_usage_error(cmd, "%s needs a value", a);
                break;
            }
            size_t k = 0;
            while (k < p.n_special && strcmp(specials[k], val) != 0) k++;
            if (k == p.n_special) specials[p.n_special++] = val;
            if (strcmp(a, "--bos") == 0) p.bos_token = val;
            if (strcmp(a, "--eos") == 0) p.eos_token = val;
            i++;
        } else if (strcmp(a, "--chat-template") == 0) {
            p.chat_template = rt_chat_template_text(val);
            if (!p.chat_template)
                rc = rt_cli_usage_error(cmd, "--chat-template: '%s' is not a family retrace writes (chatml)",
                                        val ? val : "");
            i++;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!val) rc = rt_cli_usage_error(cmd, "%s needs a value", a);
            out = val;
            i++;
        } else if (a[0] == '-' && a[1]) {
            rc = rt_cli_usage_error(cmd, "unknown option '%s' (see --help)", a);
        } else {
            files[n_files++] = a;
        }
    }
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
    if (rc == RT_EXIT_OK && !have_vocab) rc = rt_cli_usage_error(cmd, "--vocab is required (see --help)");
    if (rc == RT_EXIT_OK && !out) rc = rt_cli_usage_error(cmd, "-o DIR is required (see --help)");
    if (rc == RT_EXIT_OK && n_files == 0) rc = rt_cli_usage_error(cmd, "no corpus files given (see --help)");
    p.special_tokens = specials;
    if (rc == RT_EXIT_OK && rt_bpe_train(files, n_files, &p, out) != RT_OK) rc = rt_cli_fail(cmd);
    free(specials);
    free(files);
    return rc;
}
