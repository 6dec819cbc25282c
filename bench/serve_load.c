/* serve_load.c: a bounded HTTP load client for bench/serve.py: C clients, each on its own keep-alive
 * connection, POST request bodies (one per line of a file, taken round-robin, or each once with
 * --once) to one path for a time, and the latencies are reported as JSON: requests/s, p50, p99. It
 * speaks just enough HTTP/1.1 for retrace serve and Chroma's server (Content-Length or chunked
 * replies); any status other than 200 counts as an error.
 *
 *   bench_serve_load --port P --path /v1/memory/search --bodies FILE --clients 8 --seconds 10
 *                    [--host 127.0.0.1] [--once] [--header "Authorization: Bearer K"] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *host, *path, *header;
    int port, clients, once;
    double seconds;
    char **bodies;
    size_t n_bodies;
    atomic_size_t next; /* --once: the next body to send */
} config;

typedef struct {
    config *c;
    int id;
    double *lat;
    size_t n, cap, errors;
} worker;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int connect_to(const config *c) {
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    inet_pton(AF_INET, c->host, &a.sin_addr);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return close(fd), -1;
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

/* Reads one response; returns its status, or -1 when the connection broke. */
static int read_reply(int fd, char **buf, size_t *cap) {
    size_t len = 0, head = 0, need = 0;
    int status = -1, chunked = 0;
    for (;;) {
        if (len + 65536 > *cap) *buf = realloc(*buf, *cap = (len + 65536) * 2);
        ssize_t k = recv(fd, *buf + len, *cap - len - 1, 0);
        if (k <= 0) return -1;
        len += (size_t)k, (*buf)[len] = '\0';
        if (!head) {
            char *e = strstr(*buf, "\r\n\r\n");
            if (!e) continue;
            head = (size_t)(e - *buf) + 4;
            status = atoi(*buf + 9);
            char *cl = strcasestr(*buf, "\r\ncontent-length:");
            chunked = strcasestr(*buf, "\r\ntransfer-encoding: chunked") != NULL && (!cl || cl > e);
            need = cl && cl < e ? head + strtoull(cl + 17, NULL, 10) : head;
        }
        if (!chunked && len >= need) return status;
        if (chunked && len >= head + 5 && !memcmp(*buf + len - 5, "0\r\n\r\n", 5)) return status;
    }
}

static void *run(void *arg) {
    worker *w = arg;
    config *c = w->c;
    char *req = NULL, *buf = NULL;
    size_t req_cap = 0, cap = 0, turn = (size_t)w->id;
    int fd = connect_to(c);
    double end = now() + c->seconds;
    while (fd >= 0 && now() < end) {
        size_t i = c->once ? atomic_fetch_add(&c->next, 1) : turn++ % c->n_bodies;
        if (i >= c->n_bodies) break;
        const char *body = c->bodies[i];
        size_t blen = strlen(body);
        if (blen + 512 > req_cap) req = realloc(req, req_cap = blen + 512);
        int hl = snprintf(req, req_cap, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n%s%sContent-Length: %zu\r\n\r\n",
                          c->path, c->host, c->port, c->header ? c->header : "", c->header ? "\r\n" : "", blen);
        memcpy(req + hl, body, blen);
        double t0 = now();
        int st = send_all(fd, req, (size_t)hl + blen) ? -1 : read_reply(fd, &buf, &cap);
        double dt = now() - t0;
        if (st != 200) w->errors++;
        if (st < 0) close(fd), fd = connect_to(c);
        if (w->n == w->cap) w->lat = realloc(w->lat, sizeof *w->lat * (w->cap = w->cap ? w->cap * 2 : 4096));
        w->lat[w->n++] = dt;
    }
    if (fd >= 0) close(fd);
    free(req), free(buf);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void read_bodies(config *c, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) perror(path), exit(2);
    char *line = NULL;
    size_t lcap = 0, cap = 0;
    ssize_t n;
    while ((n = getline(&line, &lcap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (!n) continue;
        if (c->n_bodies == cap) c->bodies = realloc(c->bodies, sizeof *c->bodies * (cap = cap ? cap * 2 : 1024));
        c->bodies[c->n_bodies++] = strdup(line);
    }
    free(line), fclose(f);
    if (!c->n_bodies) fprintf(stderr, "%s: no request bodies\n", path), exit(2);
}

int main(int argc, char **argv) {
    config c = {.host = "127.0.0.1", .path = "/v1/memory/search", .clients = 1, .seconds = 10};
    const char *bodies = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--once")) { c.once = 1; continue; }
        i++;
        if (!strcmp(a, "--host")) c.host = v;
        else if (!strcmp(a, "--port")) c.port = atoi(v);
        else if (!strcmp(a, "--path")) c.path = v;
        else if (!strcmp(a, "--bodies")) bodies = v;
        else if (!strcmp(a, "--clients")) c.clients = atoi(v);
        else if (!strcmp(a, "--seconds")) c.seconds = atof(v);
        else if (!strcmp(a, "--header")) c.header = v;
        else fprintf(stderr, "unknown option %s\n", a), exit(2);
    }
    if (!bodies || c.port <= 0 || c.clients < 1) fprintf(stderr, "usage: see the top of bench/serve_load.c\n"), exit(2);
    read_bodies(&c, bodies);
    worker *w = calloc((size_t)c.clients, sizeof *w);
    pthread_t *th = calloc((size_t)c.clients, sizeof *th);
    double t0 = now();
    for (int i = 0; i < c.clients; i++) w[i] = (worker){.c = &c, .id = i}, pthread_create(&th[i], NULL, run, &w[i]);
    size_t total = 0, errors = 0;
    for (int i = 0; i < c.clients; i++) pthread_join(th[i], NULL), total += w[i].n, errors += w[i].errors;
    double wall = now() - t0;
    double *all = malloc(sizeof *all * (total ? total : 1));
    size_t k = 0;
    for (int i = 0; i < c.clients; i++) memcpy(all + k, w[i].lat, sizeof *all * w[i].n), k += w[i].n, free(w[i].lat);
    qsort(all, total, sizeof *all, cmp);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)((double)(total - 1) * 0.99)] : 0;
    printf("{\"clients\": %d, \"requests\": %zu, \"errors\": %zu, \"seconds\": %.3f, \"rps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
           c.clients, total, errors, wall, (double)total / wall, p50 * 1e3, p99 * 1e3);
    free(all), free(w), free(th);
    for (size_t i = 0; i < c.n_bodies; i++) free(c.bodies[i]);
    free(c.bodies);
    return errors ? 1 : 0;
}
