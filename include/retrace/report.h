/* retrace/report.h: the HTML report of a `retrace bench` folder.
 *
 * The report is one self-contained HTML file (inline CSS and inline SVG, no scripts, no network, no
 * external fonts) that opens in a browser offline: the scale and run time, the results table
 * (configuration x split: success rate with its 95% Wilson interval, mean steps, invalid-action rate,
 * successes/episodes), a grouped bar chart of success with the intervals as whiskers, one loss chart per
 * training run (validation loss as markers), and the evaluation time split into retrieval and decoding.
 * The page is also well-formed XML.
 *
 * Input: BENCH_DIR/results.json, as `retrace bench` writes it:
 *   {"scale": "full", "seconds": 812.3, "date": "..." (optional; else the file's modification time),
 *    "configs": [{"id": "a", "label": "base"}, ...],          rows of the table, in this order
 *    "splits":  [{"id": "train", "label": "seen task types"}, ...],
 *    "cells":   {"a": {"train": EVAL, ...}, ...},
 *    "loss_logs": {"base (pretrain)": "base/loss.jsonl", ...}} paths relative to BENCH_DIR
 * where EVAL is the summary `retrace eval --json` writes (success_rate, ci_low, ci_high, successes,
 * episodes, mean_steps, invalid_rate, retrieval_s, decode_s). Without "configs" or "splits" the rows
 * and columns are taken from the keys of "cells". Loss logs are the JSON lines of the training loop:
 * {"step", "loss", ...} and {"step", "val_loss"}. A missing loss log, cell or field is shown as "n/a";
 * unreadable loss-log lines are skipped and counted on the page. */
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
