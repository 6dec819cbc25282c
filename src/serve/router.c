/* router.c: method and path to handler; 404 for an unknown path, 405 (with the allowed methods named)
 * for a known path asked with another method. */
#include <stdio.h>
#include <string.h>

#include "serve/serve_internal.h"

typedef struct {
    const char *method, *path; /* a path ending in '/' takes one more segment, the {id} */
    rt_route route;
    rt_handler handler;
} route_entry;

static const route_entry ROUTES[] = {
    {"GET", "/healthz", RT_ROUTE_HEALTHZ, rt_h_healthz},
    {"GET", "/metrics", RT_ROUTE_METRICS, rt_h_metrics},
    {"POST", "/v1/episodes", RT_ROUTE_EPISODES, rt_h_episodes_add},
    {"GET", "/v1/episodes/", RT_ROUTE_EPISODE, rt_h_episode_get},
    {"DELETE", "/v1/episodes/", RT_ROUTE_EPISODE, rt_h_episode_delete},
    {"POST", "/v1/docs", RT_ROUTE_DOCS, rt_h_docs_add},
    {"POST", "/v1/memory/search", RT_ROUTE_SEARCH, rt_h_search},
    {"POST", "/v1/chat/completions", RT_ROUTE_CHAT, rt_h_chat},
    {"GET", "/v1/models", RT_ROUTE_MODELS, rt_h_models},
};
#define N_ROUTES (sizeof ROUTES / sizeof ROUTES[0])

static const char *const LABELS[RT_ROUTE_COUNT] = {"/healthz", "/metrics", "/v1/episodes", "/v1/episodes/{id}", "/v1/docs",
                                                   "/v1/memory/search", "/v1/chat/completions", "/v1/models", "other"};

const char *rt_route_label(rt_route r) { return r >= 0 && r < RT_ROUTE_COUNT ? LABELS[r] : "other"; }

/* Whether url is the route's path; for an {id} route, *arg is the id (one non-empty segment). */
static int path_matches(const route_entry *e, const char *url, const char **arg) {
    size_t n = strlen(e->path);
    if (e->path[n - 1] != '/') return strcmp(url, e->path) == 0;
    if (strncmp(url, e->path, n) != 0 || url[n] == '\0' || strchr(url + n, '/')) return 0;
    *arg = url + n;
    return 1;
}

rt_route rt_route_find(const char *method, const char *url, const char **arg, rt_handler *handler, rt_reply *out) {
    *handler = NULL, *arg = NULL;
    char allowed[64] = "";
    rt_route found = RT_ROUTE_OTHER;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!path_matches(&ROUTES[i], url, arg)) continue;
        found = ROUTES[i].route;
        if (strcmp(method, ROUTES[i].method) == 0) return *handler = ROUTES[i].handler, found;
        if (allowed[0]) strncat(allowed, ", ", sizeof allowed - strlen(allowed) - 1);
        strncat(allowed, ROUTES[i].method, sizeof allowed - strlen(allowed) - 1);
    }
    if (found == RT_ROUTE_OTHER) rt_reply_error(out, 404, "no such endpoint: %s %.200s", method, url);
    else {
        rt_reply_error(out, 405, "%s takes %s, not %s", rt_route_label(found), allowed, method);
        snprintf(out->allow, sizeof out->allow, "%s", allowed);
    }
    return found;
}
