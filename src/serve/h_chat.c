/* h_chat.c: placeholder */
#include "serve/serve_internal.h"
void rt_h_models(rt_server *s, rt_req *r, rt_reply *out) { rt_reply_error(out, 404, "no model"); }
void rt_h_chat(rt_server *s, rt_req *r, rt_reply *out) { rt_reply_error(out, 404, "no model"); }
