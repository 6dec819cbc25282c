/* retrace/base.h: errors, logging and progress, allocation, RNG, atomic file writes, JSON helpers.
 *
 * Errors are values. A failing function returns an rt_status other than RT_OK and leaves a one-line
 * message (naming the file, key or line at fault) in a thread-local buffer that rt_errmsg() returns.
 * Library code never prints to stdout and never calls exit(). */
#ifndef RETRACE_BASE_H
#define RETRACE_BASE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ---- */

/* Explicit values; new codes are only added at the end. */
typedef enum {
    RT_OK = 0,
    RT_ERR_IO = 1,          /* a read, write, open or mmap failed */
    RT_ERR_FORMAT = 2,      /* a file or string is malformed (truncated, lying header, bad JSON) */
    RT_ERR_ARG = 3,         /* a caller or user passed an invalid argument */
    RT_ERR_NOMEM = 4,       /* allocation failed */
    RT_ERR_UNSUPPORTED = 5, /* valid input this build does not handle (architecture, dtype) */
    RT_ERR_SHAPE = 6,       /* tensor shapes do not agree */
    RT_ERR_STATE = 7,       /* an object is used in the wrong state */
    RT_ERR_NOT_FOUND = 8,   /* a named key, tensor or file does not exist */
} rt_status;

/* Sets the thread's error message and returns `code`, so `return rt_fail(...)` reads naturally. */
rt_status rt_fail(rt_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "context: " to the current message (used when a caller knows the file name). */
rt_status rt_fail_context(rt_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *rt_errmsg(void);
const char *rt_status_name(rt_status s);
void rt_clear_error(void);

/* Returns from the enclosing function when `expr` fails, keeping its message. */
#define RT_TRY(expr)                      \
    do {                                  \
        rt_status rt_try_s_ = (expr);     \
        if (rt_try_s_ != RT_OK) return rt_try_s_; \
    } while (0)

/* ---- allocation ---- */

/* malloc/calloc that never return NULL for n > 0: on failure they print and abort, because an
 * out-of-memory in the middle of a kernel has no useful recovery. Use rt_try_alloc where the size comes
 * from a file and a clean error is possible. */
void *rt_malloc(size_t n);
void *rt_calloc(size_t count, size_t size);
void *rt_realloc(void *p, size_t n);
char *rt_strdup(const char *s);
/* 64-byte aligned (for SIMD kernels); free with rt_free_aligned. */
float *rt_alloc_floats(size_t count);
void rt_free_aligned(void *p);
/* Returns NULL (with an RT_ERR_NOMEM message) instead of aborting. */
void *rt_try_alloc(size_t n, const char *what);

/* ---- SIMD level ----
 * Kernels that choose their instruction set at run time (distance, generation) ask whether a level is
 * allowed; RETRACE_SIMD=scalar|avx2|avx512 caps it (retrace's main), so the portable paths can be
 * checked on a machine that has the wider units. Explicit values. */
enum { RT_SIMD_SCALAR = 0, RT_SIMD_AVX2 = 1, RT_SIMD_AVX512 = 2 };
void rt_simd_limit(int level);
int rt_simd_allowed(int level);

/* ---- fault injection (tests) ----
 * As SQLite's test harness does, a test arms a kind of system call to fail on its Nth use from now
 * (1 = the next one), once; 0 disarms. Armed faults hit rt_try_alloc (ALLOC), the writes of
 * rt_atomic_write (WRITE), the flush+fsync of rt_atomic_commit (FSYNC) and its rename (RENAME), and
 * whatever else calls rt_fault_hit (tests route SQLite's VFS and allocator through it). The failure
 * looks to the caller exactly like the real one: ENOMEM, EIO or EXDEV, with the usual message. */
typedef enum { RT_FAULT_ALLOC = 0, RT_FAULT_WRITE = 1, RT_FAULT_FSYNC = 2, RT_FAULT_RENAME = 3, RT_N_FAULTS = 4 } rt_fault_kind;
void rt_fault_arm(rt_fault_kind kind, long nth);
/* Counts one use of `kind`; 1 when this use must fail (the armed fault then disarms). */
int rt_fault_hit(rt_fault_kind kind);
/* Uses of `kind` counted since it was last armed (how many a clean run makes: the loop bound). */
long rt_fault_count(rt_fault_kind kind);

/* ---- growable strings ---- */

/* A NUL-terminated string that grows as text is appended; zero-initialise, take ->buf when done (or
 * free it). ->buf is never NULL after the first append. */
typedef struct {
    char *buf;
    size_t len, cap;
} rt_strbuf;

void rt_strbuf_add(rt_strbuf *s, const char *text);
void rt_strbuf_addf(rt_strbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- logging and progress ---- */

typedef enum { RT_LOG_DEBUG = 0, RT_LOG_INFO = 1, RT_LOG_WARN = 2, RT_LOG_ERROR = 3, RT_LOG_QUIET = 4 } rt_log_level;
void rt_log_set_level(rt_log_level level);
rt_log_level rt_log_get_level(void);
void rt_log(rt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define rt_info(...) rt_log(RT_LOG_INFO, __VA_ARGS__)
#define rt_warn(...) rt_log(RT_LOG_WARN, __VA_ARGS__)
#define rt_debug(...) rt_log(RT_LOG_DEBUG, __VA_ARGS__)

/* A progress line on stderr: redrawn in place on a terminal; where stderr is not a terminal (pipes, CI
 * logs), a heartbeat: one plain line per minute (RETRACE_HEARTBEAT_S seconds if set), so a long command
 * shows it is alive without flooding the log. Both are off below RT_LOG_INFO (--quiet). */
typedef struct {
    const char *label;
    int64_t total;     /* number of units of work, 0 if unknown */
    int64_t done;
    double t_start;    /* seconds, rt_now() */
    double t_last_draw;
    int enabled;       /* a terminal: redraw in place */
    double heartbeat_s; /* not a terminal: seconds between lines (0: every update); -1: none */
} rt_progress;

void rt_progress_begin(rt_progress *p, const char *label, int64_t total);
/* `extra` is appended to the line (e.g. "loss 2.31  tok/s 1830"); may be NULL. */
void rt_progress_update(rt_progress *p, int64_t done, const char *extra);
void rt_progress_end(rt_progress *p);

/* Monotonic wall clock in seconds. */
double rt_now(void);
/* CPU seconds of this process, all threads: beside rt_now it shows how much of a run other processes
 * took on a shared machine (the benchmarks print both). */
double rt_cpu_now(void);

/* ---- random numbers ---- */

/* splitmix64's finaliser: a bijective 64-bit mix that spreads every input bit over the whole word. The
 * one copy of it: the RNG's seeding (splitmix64 = this mix of a counter stepped by RT_GOLDEN_GAMMA), seeds
 * derived from seeds, counter-based draws (dropout) and hashing all use it. Inline, for kernels' loops. */
#define RT_GOLDEN_GAMMA 0x9E3779B97F4A7C15ull
static inline uint64_t rt_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* xoshiro256** seeded by splitmix64: the same seed gives the same stream on every machine. */
typedef struct {
    uint64_t s[4];
} rt_rng;

void rt_rng_seed(rt_rng *r, uint64_t seed);
uint64_t rt_rng_u64(rt_rng *r);
/* Uniform in [0, 1) with 24 bits (float) or 53 bits (double). */
float rt_rng_float(rt_rng *r);
double rt_rng_double(rt_rng *r);
/* Uniform integer in [0, n). */
uint64_t rt_rng_below(rt_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
float rt_rng_normal(rt_rng *r);

/* ---- files ---- */

/* Reads a whole file (NUL-terminated for convenience; *len excludes the NUL). */
rt_status rt_file_read(const char *path, char **data, size_t *len);
/* Writes `len` bytes atomically: to a temporary file beside `path`, fsync, rename, fsync the folder. */
rt_status rt_file_write_atomic(const char *path, const void *data, size_t len);

/* A streaming atomic writer for large files (checkpoints, safetensors). Nothing appears at `path`
 * until rt_atomic_commit succeeds; rt_atomic_abort (or a crash) leaves the old file untouched. */
typedef struct {
    FILE *fp;
    char *path;
    char *tmp_path;
    int failed;
} rt_atomic_file;

rt_status rt_atomic_open(rt_atomic_file *f, const char *path);
rt_status rt_atomic_write(rt_atomic_file *f, const void *data, size_t len);
rt_status rt_atomic_commit(rt_atomic_file *f);
void rt_atomic_abort(rt_atomic_file *f);

int rt_path_exists(const char *path);
int rt_is_dir(const char *path);
/* mkdir -p */
rt_status rt_mkdir_p(const char *path);
/* Joins two path parts into a newly allocated string. */
char *rt_path_join(const char *dir, const char *name);
/* Copies each file named in `names` (NULL-terminated) that exists in from_dir to to_dir, atomically;
 * names that from_dir lacks are skipped. */
rt_status rt_copy_files(const char *from_dir, const char *to_dir, const char *const *names);

/* ---- JSON (over jansson) ---- */

/* Opaque to callers that do not include jansson.h themselves. */
struct json_t;
/* Loads a JSON file; the error names the file, line and column. */
rt_status rt_json_load(const char *path, struct json_t **out);
/* Saves atomically with sorted keys and 2-space indentation. */
rt_status rt_json_save(const char *path, const struct json_t *root);
/* A JSON number for a float32 value as it was written: the shortest decimal that reads back as the same
 * float (1e-05f becomes 1e-05, not 9.9999997473787516e-06). rt_json_save prints every real with the fewest
 * digits that read back as the same double. */
struct json_t *rt_json_float(float x);
/* Typed getters: a missing or mistyped key fails with "<file>: key '<key>' ..." (file may be NULL). */
rt_status rt_json_get_int(const struct json_t *obj, const char *key, const char *file, int64_t *out);
rt_status rt_json_get_number(const struct json_t *obj, const char *key, const char *file, double *out);
rt_status rt_json_get_string(const struct json_t *obj, const char *key, const char *file, const char **out);
rt_status rt_json_get_bool(const struct json_t *obj, const char *key, const char *file, int *out);

/* ---- threads ---- */

/* Number of OpenMP threads that kernels use (RT_THREADS or OMP_NUM_THREADS, else all cores). */
int rt_threads(void);
void rt_set_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
