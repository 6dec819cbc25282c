/* retrace/report.h: the HTML report of a `retrace bench` folder.
 *
 * The report is one self-contained HTML file (inline CSS and inline SVG, no scripts, no network, no
 * external fonts) that opens in a browser offline and reads on a phone: the configuration x split table
 * (success k/n with its 95% Wilson interval, mean reward, same-type retrieval share), the exact McNemar
 * tests of (e), the index ablation, a bar chart of success with the intervals as whiskers, success by
 * task type, one retrieved context per configuration and (c) beside (e) on one seed (read from the
 * episode files), how the run was made (base, embedder, commit, machine, seeds, settings, command),
 * links to the episode files, every cell's numbers, one loss chart per training run and the evaluation
 * time. The page is also well-formed XML. docs/agent.md, "The report", lists what it shows.
 *
 * Input: BENCH_DIR/results.json, as `retrace bench` writes it (docs/agent.md, "results.json"):
 *   {"scale": "full", "seconds": 812.3, "date": "..." (optional; else the file's modification time),
 *    "configs": [{"id": "a", "label": "base", "episode_files": {"train": "episodes_a_train.jsonl"}}, ...],
 *    "splits":  [{"id": "train", "label": "seen task types"}, ...],
 *    "cells":   {"a": {"train": EVAL, ...}, ...},
 *    "tests": [{"versus": "c", "split": ..., "pairs", "e_only", "other_only", "p"}, ...],
 *    "index_ablation": {"split": ..., "rows": [{"id", "label", "cell": EVAL}, ...]},
 *    "base", "embedder", "commit", "machine", "seeds", "retrieval", "training", "stages", "command(s)",
 *    "loss_logs": {"base (pretrain)": "base/loss.jsonl", ...}} paths relative to BENCH_DIR
 * where EVAL is the summary `retrace eval --json` writes (success_rate, ci_low, ci_high, successes,
 * episodes, mean_steps, invalid_rate, mean_reward, retrieval_same_type, retrieval_s, decode_s) with the
 * bench's success_by_type, episodes_file and mcnemar. Without "configs" or "splits" the rows and
 * columns are taken from the keys of "cells". Every other key is optional: a missing one leaves its part
 * out or shows "n/a". Loss logs are the JSON lines of the training loop: {"step", "loss", ...} and
 * {"step", "val_loss"}; unreadable loss-log and episode lines are skipped. */
#ifndef RETRACE_REPORT_H
#define RETRACE_REPORT_H

#include "retrace/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Renders the report of bench_dir into a newly allocated NUL-terminated string (free it). Fails with
 * RT_ERR_IO when results.json is missing and RT_ERR_FORMAT (naming the file and key) when it is not
 * JSON or its configs/splits are malformed. */
rt_status rt_report_render(const char *bench_dir, char **html);

/* Renders and writes the report to out_html atomically (nothing appears there unless it is complete). */
rt_status rt_report_write(const char *bench_dir, const char *out_html);

#ifdef __cplusplus
}
#endif
#endif
