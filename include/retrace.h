/* retrace.h: the public API of retrace, one header per module below include/retrace/.
 * Every public name carries the rt_ prefix; see docs/ for file formats. */
#ifndef RETRACE_H
#define RETRACE_H

#include "retrace/base.h"
#include "retrace/stats.h"
#include "retrace/safetensors.h"
#include "retrace/optim.h"
#include "retrace/tensor.h"
#include "retrace/model.h"
#include "retrace/train.h"
#include "retrace/sft.h"
#include "retrace/episode.h"
#include "retrace/agent.h"
#include "retrace/agent_context.h"
#include "retrace/agent_loop.h"
#include "retrace/tok.h"
#include "retrace/env.h"
#include "retrace/hnsw.h"
#include "retrace/memory.h"
#include "retrace/bert.h"
#include "retrace/dataset.h"
#include "retrace/report.h"

#endif
