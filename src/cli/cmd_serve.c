/* cmd_serve.c: `retrace serve`: the experience service over HTTP (docs/serve.md). Parses the options,
 * starts the server, and waits for SIGTERM or SIGINT, which drain the requests in flight. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "retrace/serve.h"

const char rt_cmd_serve_summary[] = "serve the memory (and a model, OpenAI-compatibly) over HTTP";

static void usage(void) {
    printf("usage: retrace serve MEM [-m|--model DIR] [--adapter DIR] [--host 127.0.0.1] [--port 8377] [--api-key-file F]\n\n"
           "Serves the memory MEM over HTTP (docs/serve.md, docs/openapi.yaml) until SIGTERM or SIGINT, which let\n"
           "the requests in flight finish. Binds to loopback unless --host says otherwise.\n\n"
           "  -m, --model DIR      also serve /v1/chat/completions with this model (loaded once)\n"
           "  --tokenizer DIR      the model's tokenizer when it is not in the model directory\n"
           "  --adapter, --lora DIR  a LoRA adapter (PEFT) on the model\n"
           "  --host ADDR          IPv4 or IPv6 address to bind (127.0.0.1)\n"
           "  --port N             port (8377; 0 picks a free one, printed on stderr)\n"
           "  --api-key-file F     require \"Authorization: Bearer <key>\", the key being F's first line\n"
           "  --max-body BYTES     larger request bodies get 413 (8388608)\n"
           "  --timeout S          close a connection idle or stalled for S seconds (30)\n"
           "  --max-connections N  at most N open connections (256)\n"
           "  --budget N           prompt budget in tokens for completions with retrieval (1024)\n\n"
           "The online loop (docs/serve.md):\n"
           "  --retrain-every N    after every N new successful episodes, train a new adapter in a child process\n"
           "                       (retrace dataset, retrace train --val) and swap it in if its validation loss\n"
           "                       beats the adapter in use's (or the base model's) on the same examples\n"
           "  --retrain-dir DIR    work folder, one round-K folder per round (MEM/retrain)\n"
           "  --retrain-min-improvement X   the new loss must be lower by more than X (0)\n"
           "  --retrain-train-args \"ARGS\"  more words for retrace train (e.g. \"--preset tiny --steps 200\")\n"
           "  --retrain-dataset-args \"ARGS\" more words for retrace dataset (e.g. \"--budget 512\")\n"
           "  --retrain-chat       train and score through the chat template (train --chat)\n");
}

/* The key is the file's first line without its line end; an empty key is an error. */
static int read_key(const char *path, char **key) {
    char *text;
    size_t len;
    if (rt_file_read(path, &text, &len) != RT_OK) return rt_cli_fail("serve");
    text[strcspn(text, "\r\n")] = '\0';
    if (!text[0]) {
        free(text);
        return rt_cli_usage_error("serve", "%s: the API key file is empty", path);
    }
    *key = text;
    return RT_EXIT_OK;
}

int rt_cmd_serve(int argc, char **argv) {
    rt_serve_params p = rt_serve_params_default();
    const char *key_file = NULL;
    long long port = p.port, max_body = (long long)p.max_body, timeout = p.timeout_s, conns = p.max_connections;
    long long budget = p.budget_tokens, every = 0;
    const rt_arg args[] = {RT_ARG_S("-m|--model", &p.model), RT_ARG_S("--tokenizer", &p.tokenizer),
                           RT_ARG_S("--adapter|--lora", &p.adapter), RT_ARG_S("--host", &p.host),
                           RT_ARG_S("--api-key-file", &key_file), RT_ARG_I("--port", &port, 0, 65535),
                           RT_ARG_I("--max-body", &max_body, 1, 1e18), RT_ARG_I("--timeout", &timeout, 1, 1e9),
                           RT_ARG_I("--max-connections", &conns, 1, 65536), RT_ARG_I("--budget", &budget, 16, 1e9),
                           RT_ARG_I("--retrain-every", &every, 0, 999999999),
                           RT_ARG_F("--retrain-min-improvement", &p.retrain_min_improvement, 0, 0),
                           RT_ARG_S("--retrain-dir", &p.retrain_dir), RT_ARG_S("--retrain-train-args", &p.retrain_train_args),
                           RT_ARG_S("--retrain-dataset-args", &p.retrain_dataset_args),
                           RT_ARG_B("--retrain-chat", &p.retrain_chat, 1), RT_ARG_TABLE_END};
    const rt_args_spec spec = {"serve", usage, args, 0, 1, 1};
    int rc = rt_args_parse(&spec, argc, argv, &p.memory_dir, NULL);
    if (rc) return RT_ARGS_EXIT(rc);
    if (!p.memory_dir) return rt_cli_usage_error("serve", "a memory directory is required (retrace memory init DIR makes one)");
    if (p.adapter && !p.model) return rt_cli_usage_error("serve", "--adapter needs --model");
    if (every && !p.model) return rt_cli_usage_error("serve", "--retrain-every needs --model");
    p.retrain_every = (int)every;
    p.port = (int)port, p.max_body = (size_t)max_body, p.timeout_s = (int)timeout, p.max_connections = (int)conns;
    p.budget_tokens = (int)budget;
    char *key = NULL;
    if (key_file && read_key(key_file, &key)) return RT_EXIT_USAGE;
    p.api_key = key;
    /* Blocked before any thread starts, so every thread inherits the mask and sigwait takes them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    rt_server *srv;
    rt_status s = rt_serve_start(&p, &srv);
    free(key);
    if (s != RT_OK) return rt_cli_fail("serve");
    fprintf(stderr, "retrace serve: listening on http://%s%s%s:%d\n", strchr(p.host, ':') ? "[" : "", p.host,
            strchr(p.host, ':') ? "]" : "", rt_serve_port(srv));
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "retrace serve: %s: finishing the requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    int cut = rt_serve_stop(srv);
    if (cut) fprintf(stderr, "retrace serve: %d requests were still running at the drain limit\n", cut);
    return cut ? RT_EXIT_FAIL : RT_EXIT_OK;
}
