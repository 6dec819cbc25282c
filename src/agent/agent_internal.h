/* agent_internal.h: what the agent's own files share beyond the public headers. Retrieval and the
 * context step are public now (retrace/agent_context.h). */
#ifndef RT_AGENT_INTERNAL_H
#define RT_AGENT_INTERNAL_H

#include <jansson.h>

#include "retrace/agent_context.h"
#include "retrace/agent_loop.h"

#endif
