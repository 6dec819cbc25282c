/* cmd_tokenize.c: `retrace tokenize`: text lines -> id lines (or back with --decode), and chat
 * rendering with --chat, using a Hugging Face tokenizer.json. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char rt_cmd_tokenize_summary[] = "encode or decode text with a Hugging Face tokenizer.json";

static void usage(void) {
    printf("usage: retrace tokenize --tokenizer DIR_OR_FILE [--special] [--decode [--skip-special]]\n"
           "       retrace tokenize --tokenizer DIR --chat [--generation-prompt] < conversation.json\n\n"
           "Reads UTF-8 lines on stdin and prints, for each, its token ids separated by single spaces\n"
           "(an empty line gives an empty line). The final newline of each line is not part of the text.\n"
           "Invalid UTF-8 is replaced by U+FFFD (one per maximal invalid sequence) before encoding.\n\n"
           "  --tokenizer P        tokenizer.json, or a folder with tokenizer.json (+ tokenizer_config.json)\n"
           "  --special            add the special tokens the post-processor adds (BOS/EOS)\n"
           "  --decode             read lines of ids and print their text instead\n"
           "  --skip-special       with --decode: leave special tokens out of the text\n"
           "  --chat               read a JSON list of {\"role\", \"content\"} messages and print the prompt\n"
           "                       the tokenizer's chat template renders (known families only)\n"
           "  --generation-prompt  with --chat: end with the assistant's header\n"
           "  --no-thinking        with --chat: enable_thinking=False (Qwen3: empty <think></think>)\n");
}

static int encode_lines(const rt_tokenizer *t, int flags) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    rt_tok_ids ids = {0};
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') n--;
        ids.n = 0;
        if (rt_tokenizer_encode(t, line, (size_t)n, flags, &ids) != RT_OK) {
            free(line);
            rt_tok_ids_free(&ids);
            return rt_cli_fail("tokenize");
        }
        for (size_t i = 0; i < ids.n; i++) printf(i ? " %d" : "%d", (int)ids.ids[i]);
        putchar('\n');
    }
    free(line);
    rt_tok_ids_free(&ids);
    return RT_EXIT_OK;
}

/* Parses one line of ids; fails naming the line number. */
static int parse_ids(const char *line, long lineno, rt_tok_ids *ids) {
    const char *p = line;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < INT32_MIN || v > INT32_MAX ||
            (*end && *end != ' ' && *end != '\t' && *end != '\r')) {
            fprintf(stderr, "retrace tokenize: stdin line %ld: '%.*s' is not a token id\n", lineno,
                    (int)strcspn(p, " \t\r"), p);
            return RT_EXIT_FAIL;
        }
        rt_tok_ids_push(ids, (int32_t)v);
        p = end;
    }
    return RT_EXIT_OK;
}

static int decode_lines(const rt_tokenizer *t, int skip_special) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    rt_tok_ids ids = {0};
    int rc = RT_EXIT_OK;
    while (rc == RT_EXIT_OK && (n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
        ids.n = 0;
        rc = parse_ids(line, lineno, &ids);
        if (rc != RT_EXIT_OK) break;
        char *text;
        size_t len;
        if (rt_tokenizer_decode(t, ids.ids, ids.n, skip_special, &text, &len) != RT_OK) {
            fprintf(stderr, "retrace tokenize: stdin line %ld: %s\n", lineno, rt_errmsg());
            rc = RT_EXIT_FAIL;
            break;
        }
        fwrite(text, 1, len, stdout);
        putchar('\n');
        free(text);
    }
    free(line);
    rt_tok_ids_free(&ids);
    return rc;
}

static int render_chat(const rt_tokenizer *t, const rt_chat_params *params) {
    json_error_t err;
    json_t *root = json_loadf(stdin, 0, &err);
    if (!root) {
        fprintf(stderr, "retrace tokenize: stdin:%d:%d: invalid JSON: %s\n", err.line, err.column, err.text);
        return RT_EXIT_FAIL;
    }
    json_t *list = json_is_object(root) ? json_object_get(root, "messages") : root;
    if (!json_is_array(list)) {
        json_decref(root);
        fprintf(stderr, "retrace tokenize: stdin: expected a JSON list of messages (or {\"messages\": [...]})\n");
        return RT_EXIT_FAIL;
    }
    size_t n = json_array_size(list);
    rt_chat_message *msgs = rt_calloc(n + 1, sizeof *msgs);
    int rc = RT_EXIT_OK;
    for (size_t i = 0; i < n && rc == RT_EXIT_OK; i++) {
        json_t *m = json_array_get(list, i);
        msgs[i].role = json_string_value(json_object_get(m, "role"));
        msgs[i].content = json_string_value(json_object_get(m, "content"));
        msgs[i].reasoning_content = json_string_value(json_object_get(m, "reasoning_content"));
        if (!msgs[i].role || !msgs[i].content) {
            fprintf(stderr, "retrace tokenize: stdin: message %zu needs string fields 'role' and 'content'\n", i);
            rc = RT_EXIT_FAIL;
        }
    }
    char *out = NULL;
    if (rc == RT_EXIT_OK) {
        if (rt_chat_render_ex(t, msgs, n, params, &out) == RT_OK) fputs(out, stdout);
        else rc = rt_cli_fail("tokenize");
    }
    free(out);
    free(msgs);
    json_decref(root);
    return rc;
}

int rt_cmd_tokenize(int argc, char **argv) {
    const char *path = NULL;
    int special = 0, decode = 0, skip_special = 0, chat = 0;
    rt_chat_params chat_params = rt_chat_params_default();
    const rt_arg args[] = {RT_ARG_S("--tokenizer", &path), RT_ARG_B("--special", &special, 1),
                           RT_ARG_B("--decode", &decode, 1), RT_ARG_B("--skip-special", &skip_special, 1),
                           RT_ARG_B("--chat", &chat, 1), RT_ARG_B("--generation-prompt", &chat_params.add_generation_prompt, 1),
                           RT_ARG_B("--no-thinking", &chat_params.enable_thinking, 0), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"tokenize", usage, args, 0, 0, 0};
    int prc = rt_args_parse(&spec, argc, argv, NULL, NULL);
    if (prc) return RT_ARGS_EXIT(prc);
    if (!path) return rt_cli_usage_error("tokenize", "--tokenizer is required (see --help)");
    if (decode && chat) return rt_cli_usage_error("tokenize", "--decode and --chat exclude each other");
    rt_tokenizer *t;
    if (rt_tokenizer_load(path, &t) != RT_OK) return rt_cli_fail("tokenize");
    int rc = chat ? render_chat(t, &chat_params) : decode ? decode_lines(t, skip_special)
                                                          : encode_lines(t, special ? RT_TOK_ADD_SPECIAL : 0);
    rt_tokenizer_free(t);
    rt_tokenizer_thread_cleanup();
    return rc;
}
