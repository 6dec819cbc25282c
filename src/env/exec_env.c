/* exec_env.c: placeholder until the exec world lands. */
#include "env/env_internal.h"
rt_status rt_exec_open(const char *cmd, const rt_env_config *cfg, void **world, const rt_env_vtable **vt) {
    (void)cmd, (void)cfg, (void)world, (void)vt;
    return rt_fail(RT_ERR_UNSUPPORTED, "exec: not built yet");
}
