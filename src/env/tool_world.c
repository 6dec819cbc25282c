/* tool_world.c: placeholder until the toolapi world lands. */
#include "env/env_internal.h"
rt_status rt_toolapi_open(const char *spec, const rt_env_config *cfg, void **world, const rt_env_vtable **vt) {
    (void)spec, (void)cfg, (void)world, (void)vt;
    return rt_fail(RT_ERR_UNSUPPORTED, "toolapi: not built yet");
}
rt_status rt_pack_check(const char *path, json_t *errors) { (void)path, (void)errors; return RT_ERR_UNSUPPORTED; }
