/* bench_data.c: the stages of `retrace bench` before training: experience (episodes and docs), the
 * memories, the base model and the datasets. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/bench.h"

/* Links DIR/base/model (a folder) or DIR/base/model.gguf to the given base model, so every later stage
 * reads it from one place; its key is its content hash. Detects the chat template. */
static int link_base(bench_cache *c, options *o, const char *base_dir) {
    char *abs = realpath(o->base, NULL);
    if (!abs) return rt_cli_usage_error("bench", "--base %s: cannot resolve the path", o->base);
    int gguf = !rt_is_dir(abs);
    snprintf(o->base_link, sizeof o->base_link, "%s/%s", base_dir, gguf ? "model.gguf" : "model");
    struct stat st;
    int rc = 0;
    if (rt_mkdir_p(base_dir) != RT_OK) rc = rt_cli_fail("bench");
    else if ((lstat(o->base_link, &st) == 0 && unlink(o->base_link) != 0) || symlink(abs, o->base_link) != 0)
        rc = rt_cli_usage_error("bench", "%s: cannot link to %s", o->base_link, abs);
    rt_tokenizer *tok = NULL;
    if (!rc && rt_tokenizer_load(abs, &tok) != RT_OK) rc = rt_cli_fail("bench");
    if (!rc) {
        /* on where the tokenizer's template renders (rt_chat_render knows it), as the agent will use it */
        char *probe = NULL;
        rt_chat_message msg = {"user", "task", NULL};
        o->chat = !o->no_chat && rt_chat_render(tok, &msg, 1, 1, &probe) == RT_OK;
        rt_clear_error();
        free(probe);
        const char *family = rt_chat_family(tok);
        printf("\n(base model: %s, not pretrained here; chat template: %s)\n", abs,
               o->no_chat ? "off (--no-chat)" : o->chat ? (family ? family : "the tokenizer's own")
                                                        : "none this build can render (plain prompts)");
        double t0 = rt_now();
        bench_register(c, o->base_link, bench_hash_path(abs));
        printf("(its content hash took %.1f s)\n", rt_now() - t0);
    }
    rt_tokenizer_free(tok);
    free(abs);
    return rc;
}

/* ---- the stages ---- */

/* 1. experience: episodes for the memories, the SFT and validation examples and the tiny base's
 * pretraining; the docs of every API version split into the older ones and the newest. */
int bench_experience(bench_cache *c, const scale *sc, paths *p) {
    static const struct {
        const char *stage, *file, *env, *split;
        size_t count; /* offset of the episode count in the scale */
        const char *seed, *policy;
        int docs;
    } G[] = {
        {"gen_hh_expert", "hh_expert.jsonl", "household", "train", offsetof(scale, hh_train), "11", "expert", 0},
        {"gen_hh_noisy", "hh_noisy.jsonl", "household", "train", offsetof(scale, hh_noisy), "12", "noisy", 0},
        {"gen_hh_unseen", "hh_unseen_memory.jsonl", "household", "unseen_task", offsetof(scale, hh_unseen), "13", "expert", 0},
        {"gen_hh_unseen_noisy", "hh_unseen_noisy_memory.jsonl", "household", "unseen_task", offsetof(scale, hh_unseen_noisy),
         "21", "noisy", 0},
        {"gen_ta_expert", "ta_expert.jsonl", "toolapi", "train", offsetof(scale, ta_train), "14", "expert", 1},
        {"gen_ta_noisy", "ta_noisy.jsonl", "toolapi", "train", offsetof(scale, ta_noisy), "15", "noisy", 0},
        {"gen_hh_sft", "hh_sft_episodes.jsonl", "household", "train", offsetof(scale, hh_sft), "17", "expert", 0},
        {"gen_ta_sft", "ta_sft_episodes.jsonl", "toolapi", "train", offsetof(scale, ta_sft), "18", "expert", 0},
        {"gen_hh_val", "hh_val_episodes.jsonl", "household", "train", offsetof(scale, hh_val), "19", "expert", 0},
        {"gen_ta_val", "ta_val_episodes.jsonl", "toolapi", "train", offsetof(scale, ta_val), "20", "expert", 0},
    };
    const char *docs = P(p, "ta_docs_all.jsonl"), *scratch = P(p, "gen_docs_unused.jsonl");
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof G / sizeof *G; i++) {
        const char *count = *(const char *const *)((const char *)sc + G[i].count);
        const char *out = P(p, G[i].file);
        const char *args[20] = {"gen", "--env", G[i].env, "--split", G[i].split, "--episodes", count, "--seed", G[i].seed,
                                "--policy", G[i].policy, "-o", out};
        int n = 13;
        if (!strcmp(G[i].policy, "noisy")) args[n++] = "--noise", args[n++] = "0.5";
        if (!strcmp(G[i].env, "toolapi")) args[n++] = "--docs", args[n++] = G[i].docs ? docs : scratch;
        rc = bench_stage(c, G[i].stage, G[i].docs ? OUTS(out, docs) : OUTS(out), rt_cmd_gen, args);
    }
    if (!rc) rc = bench_stage(c, "split_docs", OUTS(P(p, "ta_docs_train.jsonl"), P(p, "ta_docs_v3.jsonl")), bench_split_docs,
                              ARGS("bench:split-docs", docs, P(p, "ta_docs_train.jsonl"), P(p, "ta_docs_v3.jsonl")));
    return rc;
}

/* 2. memories: the training memory (trained types, API versions 1-2 and their docs) builds the
 * datasets and is the ablation's index without held-out types; the evaluation memory adds the held-out
 * types' episodes (expert and noisy: successes and failures) and the version-3 docs; and an empty one. */
int bench_memories(bench_cache *c, const char *embedder, paths *p) {
    const char *train[] = {P(p, "hh_expert.jsonl"), P(p, "hh_noisy.jsonl"), P(p, "ta_expert.jsonl"), P(p, "ta_noisy.jsonl"),
                           P(p, "ta_docs_train.jsonl")};
    /* the evaluation memory: a copy of the training memory, and more (its episodes embedded once) */
    const char *mem_train = P(p, "mem_train"), *mem = P(p, "mem"), *empty = P(p, "mem_empty");
    int rc = bench_stage(c, "memory_train", OUTS(mem_train), bench_build_memory,
                         ARGS("bench:memory", mem_train, embedder, train[0], train[1], train[2], train[3], train[4]));
    if (!rc) rc = bench_stage(c, "memory_eval", OUTS(mem), bench_extend_memory,
                              ARGS("bench:memory-extend", mem_train, mem, P(p, "hh_unseen_memory.jsonl"),
                                   P(p, "hh_unseen_noisy_memory.jsonl"), P(p, "ta_docs_v3.jsonl")));
    if (!rc) rc = bench_stage(c, "memory_empty", OUTS(empty), bench_build_memory, ARGS("bench:memory", empty, embedder));
    return rc;
}

/* 3. the base model: the given one (linked) or the tiny one pretrained on the trained splits' plain
 * expert episodes. Returns the model path in *model. */
int bench_base_model(bench_cache *c, options *o, paths *p, const char **model) {
    const char *base = P(p, "base");
    if (o->base) {
        int rc = link_base(c, o, base);
        *model = o->base_link;
        return rc;
    }
    const char *corpus = P(p, "pretrain_episodes.jsonl");
    *model = P(p, "base/model");
    int rc = bench_stage(c, "pretrain_corpus", OUTS(corpus), bench_concat,
                         ARGS("bench:concat", corpus, P(p, "hh_expert.jsonl"), P(p, "ta_expert.jsonl")));
    const scale *sc = &o->sc;
    if (!rc) rc = bench_stage(c, "pretrain", OUTS(*model), rt_cmd_pretrain, ARGS("pretrain", "--episodes", corpus, "--steps",
                              sc->pretrain_steps, "--seq", sc->seq, "--batch", sc->batch, "--hidden", sc->hidden, "--layers",
                              sc->layers, "--vocab", sc->vocab, "-o", base));
    return rc;
}

/* 4. datasets, from the SFT episodes and (for the adapters' validation loss) the validation episodes,
 * all retrieving from the training memory: plain (c), RAFT (d: similarity only, distractors, docs) and
 * retrace (e: reward-weighted, a mined failure, versioned docs, as (e) retrieves at test time). */
int bench_datasets(bench_cache *c, const options *o, paths *p, const char *model) {
    const char *mem = P(p, "mem_train"), *mode = o->dynamic ? "--dynamic" : "--static";
    int rc = 0;
    for (int v = 0; v < 2 && !rc; v++) {
        const char *from = P(p, v ? "val_episodes.jsonl" : "sft_episodes.jsonl"), *pre = v ? "val" : "sft";
        rc = bench_stage(c, v ? "episodes_val" : "episodes_sft", OUTS(from), bench_concat,
                         ARGS("bench:concat", from, P(p, v ? "hh_val_episodes.jsonl" : "hh_sft_episodes.jsonl"),
                              P(p, v ? "ta_val_episodes.jsonl" : "ta_sft_episodes.jsonl")));
        const char *plain = PF(p, "%s_plain.jsonl", pre, ""), *raft = PF(p, "%s_raft_static.jsonl", pre, "");
        const char *retr = PF(p, "%s_retrace.jsonl", pre, "");
        char st[3][32];
        snprintf(st[0], 32, "dataset_%s_plain", pre), snprintf(st[1], 32, "dataset_%s_raft", pre);
        snprintf(st[2], 32, "dataset_%s_retrace", pre);
        if (!rc) rc = bench_stage(c, st[0], OUTS(plain), rt_cmd_dataset, ARGS("dataset", "--no-retrieval", "--from", from,
                                  "--tokenizer", model, "--budget", o->sc.budget, "-o", plain));
        if (!rc) rc = bench_stage(c, st[1], OUTS(raft), rt_cmd_dataset, ARGS("dataset", mem, "--from", from, "--tokenizer",
                                  model, "--static", "--retrieve", o->sc.k, "--negatives", "0", "--reward-weight", "0",
                                  "--p-useful", "0.8", "--exclude-same-task", "--budget", o->sc.budget, "-o", raft));
        if (!rc) rc = bench_stage(c, st[2], OUTS(retr), rt_cmd_dataset, ARGS("dataset", mem, "--from", from, "--tokenizer",
                                  model, mode, "--retrieve", o->sc.k, "--negatives", "1", "--reward-weight", "0.5",
                                  "--p-useful", "0.8", "--exclude-same-task", "--budget", o->sc.budget, "-o", retr));
    }
    return rc;
}
